import ByteBuffers
import EventLoop
import Glibc
import Logging

/// The new instance's side of a watched deploy: it keeps the control connection to its
/// predecessor, now a standby, and answers it. `FIGURES` gets this process's figures;
/// `ROLLBACK <format> <reason>` means this version did worse: everything goes back the way it
/// came; `PROMOTED <reason>` ends the watch. If the standby goes away, nothing is left to roll
/// back to and this version simply carries on.
final class CandidateWatch: EventHandler {
    enum Event {
        case rollBack(successorReads: Int, reason: String)
        case promoted(reason: String)
        case standbyGone
    }

    let channel: ControlChannel
    let policy: WatchPolicy
    let startedAt: UInt64
    private let loop: EventLoop
    private let figures: () -> DeployFigures
    private let event: (Event) -> Void
    private var over = false

    /// Asks the predecessor to stand by; nil when it will not (an older build, or it went
    /// away), and the deploy goes on unwatched.
    static func begin(channel: ControlChannel, policy: WatchPolicy, loop: EventLoop, logger: Logger,
                      figures: @escaping () -> DeployFigures, event: @escaping (Event) -> Void) -> CandidateWatch? {
        channel.setTimeout(seconds: 2)
        guard channel.writeLine(policy.line), channel.readLine() == "STANDBY" else {
            logger.warning("watch: the running version cannot stand by (an older build, or it went away): this deploy is not watched")
            return nil
        }
        do {
            return try CandidateWatch(channel: channel, policy: policy, loop: loop, figures: figures, event: event)
        } catch {
            logger.error("watch: cannot follow the control connection: \(error)")
            return nil
        }
    }

    private init(channel: ControlChannel, policy: WatchPolicy, loop: EventLoop,
                 figures: @escaping () -> DeployFigures, event: @escaping (Event) -> Void) throws {
        self.channel = channel
        self.policy = policy
        self.loop = loop
        self.figures = figures
        self.event = event
        startedAt = loop.now
        try loop.register(channel.fd, interest: EpollEvents.readable, handler: self)
    }

    var isOver: Bool { over }

    /// Seconds left of the watch as agreed (it may run on, up to three times, for its sample).
    var secondsLeft: Double { max(0, policy.seconds - Double(loop.now &- startedAt) / 1e9) }

    func handleEvent(_ events: UInt32) {
        guard !over else { return }
        guard let line = channel.readLine() else {
            end()
            event(.standbyGone)
            return
        }
        if line == "FIGURES" {
            channel.writeLine(figures().line)
        } else if line.hasPrefix("ROLLBACK") {
            let parts = line.split(separator: " ", maxSplits: 2)
            let reads = parts.count > 1 ? Int(parts[1]) ?? 1 : 1
            end()
            event(.rollBack(successorReads: reads, reason: parts.count > 2 ? String(parts[2]) : "no reason given"))
        } else if line.hasPrefix("PROMOTED") {
            end()
            Glibc.close(channel.fd)
            event(.promoted(reason: String(line.dropFirst("PROMOTED".count)).trimmingBlanks()))
        }
    }

    /// Stops following the connection (which the caller keeps, for a rollback).
    private func end() {
        over = true
        loop.unregister(channel.fd)
    }
}
