import ArgumentParser
import Connection
import EventLoop
import WebSocket

/// `loadtest autobahn`: the client side of the Autobahn TestSuite. A fuzzing server (kosoku's
/// `fuzzingserver`) serves the cases; this drives them with the load test's own client (the
/// shared `WebSocketConnection` in the client role): `/getCaseCount`, then `/runCase` for each
/// case, echoing every message back, then `/updateReports`. The server judges each case.
struct AutobahnCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "autobahn",
        abstract: "Run the Autobahn client cases served by a fuzzing server (conformance of our client role)."
    )

    @Option(help: "The fuzzing server, e.g. ws://127.0.0.1:9001.")
    var url = "ws://127.0.0.1:9001"
    @Option(help: "Agent name the reports are filed under.")
    var agent = "tickstream"
    @Option(help: "Largest message the client accepts (the 9.* cases send 16 MiB).")
    var maxMessageBytes = 1 << 25
    @Option(help: "Seconds one case may take before it is abandoned.")
    var caseTimeout = 60.0

    func validate() throws {
        guard WebSocketURL(url + "/getCaseCount") != nil else { throw ValidationError("--url must look like ws://127.0.0.1:9001") }
        guard !agent.isEmpty, agent.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw ValidationError("--agent must be letters, digits, - or _")
        }
        guard maxMessageBytes >= 125, caseTimeout > 0 else { throw ValidationError("--max-message-bytes >= 125 and --case-timeout > 0") }
    }

    func run() throws {
        let loop = try EventLoop()
        let driver = AutobahnClient(loop: loop, base: url, agent: agent, maxMessageBytes: maxMessageBytes)
        guard let count = driver.fetchCaseCount(timeout: caseTimeout) else {
            print("autobahn client: no case count from \(url)")
            throw ExitCode(1)
        }
        print("autobahn client: \(count) cases")
        var abandoned = 0
        for number in 1...max(count, 1) where count > 0 {
            if !driver.runCase(number, timeout: caseTimeout) {
                abandoned += 1
                print("autobahn client: case \(number) did not finish within \(caseTimeout) s")
            }
        }
        guard driver.updateReports(timeout: caseTimeout) else {
            print("autobahn client: /updateReports did not finish")
            throw ExitCode(1)
        }
        print("autobahn client: ran \(count) cases, \(abandoned) abandoned")
        if abandoned > 0 { throw ExitCode(1) }
    }
}

/// Runs one Autobahn client connection at a time and echoes what it is sent.
final class AutobahnClient: WebSocketClientDelegate {
    private let loop: EventLoop
    private let base: String
    private let agent: String
    private let maxMessageBytes: Int
    private var finished = false
    private var lastText: String?
    /// Every case connection offers permessage-deflate (the 12.* and 13.* cases need it).
    private let compression = CompressionWorkspace()

    init(loop: EventLoop, base: String, agent: String, maxMessageBytes: Int) {
        self.loop = loop
        self.base = base
        self.agent = agent
        self.maxMessageBytes = maxMessageBytes
    }

    func fetchCaseCount(timeout: Double) -> Int? {
        guard connect("/getCaseCount", timeout: timeout) else { return nil }
        return lastText.flatMap { Int($0) }
    }

    func runCase(_ number: Int, timeout: Double) -> Bool {
        connect("/runCase?case=\(number)&agent=\(agent)", timeout: timeout)
    }

    func updateReports(timeout: Double) -> Bool {
        connect("/updateReports?agent=\(agent)", timeout: timeout)
    }

    /// Opens `path`, serves it until the connection ends, and tells whether it ended in time.
    private func connect(_ path: String, timeout: Double) -> Bool {
        guard let target = WebSocketURL(base + path) else { return false }
        finished = false
        lastText = nil
        let client = WebSocketClient(loop: loop, target: target, index: 0, subprotocols: [], maxMessageBytes: maxMessageBytes,
                                     compression: compression)
        client.delegate = self
        do { try client.start() } catch { return false }
        let deadline = MonotonicClock.now() + UInt64(timeout * 1e9)
        while !finished && MonotonicClock.now() < deadline { loop.runOnce(maxWait: 50) }
        if !finished { client.connection?.abort() }
        return finished
    }

    func clientDidOpen(_ client: WebSocketClient, subprotocol: String?) {}

    func client(_ client: WebSocketClient, didReceive opcode: Opcode, payload: UnsafeRawBufferPointer) {
        if opcode == .text { lastText = String(decoding: payload, as: UTF8.self) }
        client.send(opcode: opcode, payload: payload)
    }

    func clientDidClose(_ client: WebSocketClient, closeCode: CloseCode?, error: String?) {
        finished = true
    }
}
