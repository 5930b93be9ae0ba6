import EventLoop
import TestSupport

/// A NATS server with just enough JetStream for the bus, over `FakeNATSServer`: it answers the
/// handshake and PINGs, keeps subscriptions, stores the last message of each `md.*` subject
/// (the last-value stream) and delivers it to matching subscriptions, and answers the stream
/// requests the bus makes (create, info, direct get). What the client published is kept in
/// order for the test to read.
final class ScriptedJetStream {
    let server: FakeNATSServer
    private(set) var subscriptions: [(subject: String, sid: String)] = []
    /// The stream's last message per subject, with its stream sequence.
    private(set) var stored: [String: String] = [:]
    /// Publishes to `md.*`, in the order the client sent them.
    private(set) var published: [(subject: String, payload: String)] = []
    private(set) var directGets = 0
    private var greeted = 0
    /// While true, direct gets wait in `heldGets` instead of being answered.
    var holdDirectGets = false
    /// Stream creations answered "temporarily unavailable" before one succeeds (a cluster still
    /// electing its JetStream leaders).
    var unavailableStreamChecks = 0
    private var heldGets: [(subject: String, reply: String)] = []
    var url: String { "nats://127.0.0.1:\(server.port)" }

    init() throws {
        server = try FakeNATSServer()
    }

    /// Accepts, answers and stores; call from the test's run condition.
    func pump() {
        server.poll()
        if server.accepted > greeted {
            greeted = server.accepted
            subscriptions = []  // a new connection subscribes again
            server.sendInfo()
        }
        while let (command, length) = nextCommand() {
            server.consume(length)
            handle(command)
        }
    }

    /// A message on `subject`, as if another instance had published it: stored and delivered.
    func inject(_ subject: String, _ payload: String) {
        stored[subject] = payload
        deliver(subject, payload)
    }

    func store(_ subject: String, _ payload: String) { stored[subject] = payload }

    func releaseHeldGets() {
        holdDirectGets = false
        for get in heldGets { answerDirectGet(get.subject, reply: get.reply) }
        heldGets = []
    }

    private enum Command {
        case line(String)
        case publish(subject: String, reply: String?, payload: String)
    }

    /// The next whole command in what the client sent, and its length in bytes.
    private func nextCommand() -> (Command, Int)? {
        let bytes = Array(server.received.utf8)
        guard let lineEnd = (0..<max(0, bytes.count - 1)).first(where: { bytes[$0] == 13 && bytes[$0 + 1] == 10 }) else { return nil }
        let line = String(decoding: bytes[0..<lineEnd], as: UTF8.self)
        let headLength = lineEnd + 2
        guard line.hasPrefix("PUB ") else { return (.line(line), headLength) }
        let parts = line.split(separator: " ").map(String.init)
        guard let size = Int(parts.last!), bytes.count >= headLength + size + 2 else { return nil }
        let payload = String(decoding: bytes[headLength..<(headLength + size)], as: UTF8.self)
        return (.publish(subject: parts[1], reply: parts.count == 4 ? parts[2] : nil, payload: payload), headLength + size + 2)
    }

    private func handle(_ command: Command) {
        switch command {
        case .line(let line):
            if line == "PING" { server.send("PONG\r\n") }
            if line.hasPrefix("SUB ") {
                let parts = line.split(separator: " ").map(String.init)
                subscriptions.append((parts[1], parts.last!))
            }
            if line.hasPrefix("UNSUB ") {
                let sid = String(line.split(separator: " ")[1])
                subscriptions.removeAll { $0.sid == sid }
            }
        case .publish(let subject, let reply, let payload):
            if subject.hasPrefix("$JS.API.STREAM.CREATE.") && unavailableStreamChecks > 0 {
                unavailableStreamChecks -= 1
                answer(reply, #"{"type":"io.nats.jetstream.api.v1.stream_create_response","error":{"code":503,"err_code":10008,"description":"JetStream system temporarily unavailable"}}"#)
            } else if subject.hasPrefix("$JS.API.STREAM.CREATE.") {
                answer(reply, #"{"type":"io.nats.jetstream.api.v1.stream_create_response","created":"2026-12-06T00:00:00Z"}"#)
            } else if subject.hasPrefix("$JS.API.STREAM.INFO.") {
                let subjects = stored.keys.sorted().map { "\"\($0)\":1" }.joined(separator: ",")
                answer(reply, #"{"created":"2026-12-06T00:00:00Z","state":{"subjects":{"# + subjects + "}}}")
            } else if subject.hasPrefix("$JS.API.DIRECT.GET.") {
                directGets += 1
                let stored = String(subject.split(separator: ".", maxSplits: 5).last!)
                if holdDirectGets { heldGets.append((stored, reply ?? "")) } else { answerDirectGet(stored, reply: reply ?? "") }
            } else {
                published.append((subject, payload))
                inject(subject, payload)
            }
        }
    }

    private func answerDirectGet(_ subject: String, reply: String) {
        guard let sid = sid(for: reply) else { return }
        if let payload = stored[subject] {
            server.send("MSG \(reply) \(sid) \(payload.utf8.count)\r\n\(payload)\r\n")
        } else {
            let headers = "NATS/1.0 404 Message Not Found\r\n\r\n"
            server.send("HMSG \(reply) \(sid) \(headers.utf8.count) \(headers.utf8.count)\r\n\(headers)\r\n")
        }
    }

    private func answer(_ reply: String?, _ payload: String) {
        guard let reply, let sid = sid(for: reply) else { return }
        server.send("MSG \(reply) \(sid) \(payload.utf8.count)\r\n\(payload)\r\n")
    }

    private func deliver(_ subject: String, _ payload: String) {
        for subscription in subscriptions where Self.matches(subscription.subject, subject) {
            server.send("MSG \(subject) \(subscription.sid) \(payload.utf8.count)\r\n\(payload)\r\n")
        }
    }

    private func sid(for subject: String) -> String? {
        subscriptions.first { Self.matches($0.subject, subject) }?.sid
    }

    static func matches(_ pattern: String, _ subject: String) -> Bool {
        let p = pattern.split(separator: "."), s = subject.split(separator: ".")
        for (index, token) in p.enumerated() {
            if token == ">" { return s.count > index }
            guard index < s.count, token == "*" || token == s[index] else { return false }
        }
        return p.count == s.count
    }
}
