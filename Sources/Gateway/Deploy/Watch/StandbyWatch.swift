import CShims
import EventLoop
import Glibc
import Logging

/// The old instance's side of a watched deploy. After handing everything to its successor it
/// serves nothing: it keeps a copy of the listener, its market as of the handover and the
/// control connection, and once a second asks the successor for its figures (`FIGURES`). Its
/// judge compares them with the baseline it recorded of itself; what it decides, the gateway
/// carries out. The successor's death closes the control connection, which this sees at once.
final class StandbyWatch: EventHandler {
    enum Outcome {
        case promote(reason: String)
        case rollBack(figure: String, reason: String)
        case crashed
    }

    let channel: ControlChannel
    /// The successor's process, from the control connection's credentials.
    let successorPID: pid_t
    let judge: WatchJudge
    private let loop: EventLoop
    private let logger: Logger
    private let decided: (Outcome, DeployWindow?) -> Void
    private let startedAt: UInt64
    private var first: DeployFigures?
    private var latest: DeployWindow?
    private var lastAnswerAt: UInt64
    private var unreadySince: UInt64?
    private var timer: Timer?
    private var over = false
    private static let pollInterval: UInt64 = 1_000_000_000

    init(channel: ControlChannel, judge: WatchJudge, loop: EventLoop, logger: Logger,
         decided: @escaping (Outcome, DeployWindow?) -> Void) throws {
        self.channel = channel
        self.judge = judge
        self.loop = loop
        self.logger = logger
        self.decided = decided
        successorPID = ts_peer_pid(channel.fd)
        startedAt = loop.now
        lastAnswerAt = startedAt
        channel.setTimeout(seconds: 2)
        try loop.register(channel.fd, interest: EpollEvents.readable, handler: self)
        timer = loop.scheduleRepeating(every: Self.pollInterval) { [unowned self] in self.poll() }
        channel.writeLine("FIGURES")
    }

    /// An answer, or the end of the connection: the successor is gone.
    func handleEvent(_ events: UInt32) {
        guard !over else { return }
        var byte: UInt8 = 0
        if recv(channel.fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) == 0 {
            finish(.crashed)
            return
        }
        guard let line = channel.readLine() else { return }
        guard let figures = DeployFigures(line: line) else {
            logger.warning("watch: unreadable answer from the new version", metadata: ["line": "\(line.prefix(120))"])
            return
        }
        lastAnswerAt = loop.now
        if first == nil { first = figures }
        latest = figures.since(first!)
        if figures.ready {
            unreadySince = nil
        } else if unreadySince == nil {
            unreadySince = loop.now
        }
    }

    private func poll() {
        guard !over else { return }
        let now = loop.now
        let verdict = judge.verdict(candidate: latest, elapsed: Double(now &- startedAt) / 1e9,
                                    silentFor: Double(now &- lastAnswerAt) / 1e9,
                                    unreadyFor: unreadySince.map { Double(now &- $0) / 1e9 } ?? 0)
        switch verdict {
        case .watching:
            channel.writeLine("FIGURES")
        case .promote:
            finish(.promote(reason: "every figure within its threshold after \(WatchJudge.format(Double(now &- startedAt) / 1e9)) s "
                + "and \(latest?.deliveries ?? 0) deliveries"))
        case .rollBack(let figure, let reason):
            finish(.rollBack(figure: figure, reason: reason))
        }
    }

    private func finish(_ outcome: Outcome) {
        guard cancel() else { return }
        decided(outcome, latest)
    }

    /// Stops watching (without a verdict when called from outside: the process is going
    /// away). False when it had already stopped.
    @discardableResult
    func cancel() -> Bool {
        guard !over else { return false }
        over = true
        timer?.cancel()
        timer = nil
        loop.unregister(channel.fd)
        return true
    }
}
