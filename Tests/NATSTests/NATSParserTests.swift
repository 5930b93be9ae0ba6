import NATS
import Testing

/// What a parse produced, copied out of the borrowed bytes so tests can compare it.
enum Parsed: Equatable {
    case info(String)
    case message(subject: String, sid: UInt64, replyTo: String?, headers: String?, payload: String)
    case ping, pong, ok
    case error(String)
}

/// Parses `input` fed in pieces cut at `cuts` (offsets), keeping unconsumed bytes between
/// pieces as a socket would; returns the operations or the first error.
func parse(_ input: [UInt8], cuts: [Int] = [], parser: NATSParser = NATSParser()) -> Result<[Parsed], NATSProtocolError> {
    var operations: [Parsed] = []
    var pending: [UInt8] = []
    var start = 0
    for end in cuts + [input.count] where end >= start {
        pending += input[start..<end]
        start = end
        let result = pending.withUnsafeBytes { bytes in
            parser.parse(bytes) { operation in operations.append(Parsed(operation)) }
        }
        switch result {
        case .failure(let error): return .failure(error)
        case .success(let used): pending.removeFirst(used)
        }
    }
    return .success(operations)
}

extension Parsed {
    init(_ operation: NATSServerOperation) {
        func text(_ bytes: UnsafeRawBufferPointer?) -> String? { bytes.map { String(decoding: $0, as: UTF8.self) } }
        switch operation {
        case .info(let json): self = .info(text(json)!)
        case .message(let m):
            self = .message(subject: text(m.subject)!, sid: m.sid, replyTo: text(m.replyTo), headers: text(m.headers), payload: text(m.payload)!)
        case .ping: self = .ping
        case .pong: self = .pong
        case .ok: self = .ok
        case .error(let message): self = .error(message)
        }
    }
}

@Suite struct NATSParserTests {
    /// Every kind of server operation, as nats-server 2.9 writes them (the HMSG without a
    /// reply subject has two spaces, as the server really sends it).
    static let stream = Array(("INFO {\"server_id\":\"N1\",\"max_payload\":1048576,\"headers\":true} \r\n"
        + "PING\r\nPONG\r\n+OK\r\n"
        + "MSG md.AAPL 7 11\r\nhello world\r\n"
        + "MSG _INBOX.abc.1 2 _INBOX.reply 0\r\n\r\n"
        + "HMSG _INBOX.x.2 1  30 36\r\nNATS/1.0\r\nNats-Sequence: 2\r\n\r\nhello2\r\n"
        + "HMSG _INBOX.x.4 1  34 34\r\nNATS/1.0 404 Message Not Found\r\n\r\n\r\n"
        + "-ERR 'Permissions Violation for Subscription to \"secret\"'\r\n").utf8)

    static let expected: [Parsed] = [
        .info("{\"server_id\":\"N1\",\"max_payload\":1048576,\"headers\":true}"),
        .ping, .pong, .ok,
        .message(subject: "md.AAPL", sid: 7, replyTo: nil, headers: nil, payload: "hello world"),
        .message(subject: "_INBOX.abc.1", sid: 2, replyTo: "_INBOX.reply", headers: nil, payload: ""),
        .message(subject: "_INBOX.x.2", sid: 1, replyTo: nil, headers: "NATS/1.0\r\nNats-Sequence: 2\r\n\r\n", payload: "hello2"),
        .message(subject: "_INBOX.x.4", sid: 1, replyTo: nil, headers: "NATS/1.0 404 Message Not Found\r\n\r\n", payload: ""),
        .error("Permissions Violation for Subscription to \"secret\""),
    ]

    @Test func parsesEveryOperationWhole() {
        #expect(parse(Self.stream) == .success(Self.expected))
    }

    @Test func sameOperationsWhenSplitAtEveryByte() {
        for cut in 0...Self.stream.count {
            #expect(parse(Self.stream, cuts: [cut]) == .success(Self.expected), "cut at \(cut)")
        }
        // And fed one byte at a time.
        #expect(parse(Self.stream, cuts: Array(0..<Self.stream.count)) == .success(Self.expected))
    }

    @Test func aPartialMessageIsLeftForLater() {
        let partial = Array("MSG a 1 10\r\n12345".utf8)
        let used = partial.withUnsafeBytes { NATSParser().parse($0) { _ in Issue.record("nothing is whole yet") } }
        #expect(used == .success(0))
    }

    @Test func verbsAreCaseInsensitiveAndBareLineFeedsAccepted() {
        #expect(parse(Array("ping\npong\r\nmsg s 1 2\nok\r\n".utf8)) == .success([.ping, .pong, .message(subject: "s", sid: 1, replyTo: nil, headers: nil, payload: "ok")]))
    }

    @Test func garbageIsAnErrorNamingIt() {
        guard case .failure(let error) = parse(Array("HTTP/1.1 200 OK\r\n".utf8)) else {
            Issue.record("HTTP is not NATS")
            return
        }
        #expect(error.description.contains("unknown operation \"HTTP/1.1 200 OK\""))
        for bad in ["MSG subject\r\n", "MSG s x 3\r\nabc\r\n", "MSG s 1 3\r\nabcXY", "MSG s 1 -3\r\n", "MSG a b c d e f\r\n",
                    "HMSG s 1 40 30\r\n", "HMSG s 1 2 2\r\nab\r\n", "HMSG s 1 6 6\r\nHTTP/1\r\n"] {
            if case .success = parse(Array(bad.utf8)) { Issue.record("accepted \(bad.debugDescription)") }
        }
    }

    @Test func boundsOnLineAndPayload() {
        let parser = NATSParser(maxControlLine: 64, maxPayload: 10)
        // A line without its end past the bound: an error, not a wait for ever.
        if case .success = parse(Array(String(repeating: "M", count: 65).utf8), parser: parser) { Issue.record("endless line accepted") }
        #expect(parse(Array("MSG s 1 10\r\n0123456789\r\n".utf8), parser: parser)
            == .success([.message(subject: "s", sid: 1, replyTo: nil, headers: nil, payload: "0123456789")]))
        if case .success = parse(Array("MSG s 1 11\r\n01234567890\r\n".utf8), parser: parser) { Issue.record("payload over max_payload accepted") }
    }

    @Test func errorsWithAndWithoutQuotes() {
        #expect(parse(Array("-ERR 'Authorization Violation'\r\n-ERR Unknown\r\n-ERR\r\n".utf8))
            == .success([.error("Authorization Violation"), .error("Unknown"), .error("")]))
    }

    @Test func emptyLinesAreSkipped() {
        #expect(parse(Array("\r\n\r\nPING\r\n".utf8)) == .success([.ping]))
    }
}

@Suite struct NATSHeadersTests {
    @Test func statusAndFields() throws {
        let block = Array("NATS/1.0 404 Message Not Found\r\nNats-Stream: MD\r\nnats-sequence: 2\r\n\r\n".utf8)
        let headers = try #require(block.withUnsafeBytes { NATSHeaders($0) })
        #expect(headers.status == 404)
        #expect(headers.statusDescription == "Message Not Found")
        #expect(headers.value("Nats-Sequence") == "2")
        #expect(headers.value("NATS-STREAM") == "MD")
        #expect(headers.value("missing") == nil)
        let plain = try #require(Array("NATS/1.0\r\nA: b\r\n\r\n".utf8).withUnsafeBytes { NATSHeaders($0) })
        #expect(plain.status == nil)
        #expect(Array("HTTP/1.1 200\r\n\r\n".utf8).withUnsafeBytes { NATSHeaders($0) } == nil)
    }
}

@Suite struct NATSCommandsTests {
    @Test func commandsAreWrittenAsTheProtocolSays() {
        var out: [UInt8] = []
        NATSCommands.connect(NATSConnectOptions(name: "gw \"a\"", token: "t0k"), to: &out)
        NATSCommands.subscribe("md.AAPL", sid: 12, to: &out)
        NATSCommands.unsubscribe(sid: 12, to: &out)
        Array("md.X".utf8).withUnsafeBytes { subject in
            Array("{}".utf8).withUnsafeBytes { NATSCommands.publish(subject, payload: $0, to: &out) }
            Array("_INBOX.r.1".utf8).withUnsafeBytes { reply in
                Array("".utf8).withUnsafeBytes { NATSCommands.publish(subject, replyTo: reply, payload: $0, to: &out) }
            }
        }
        NATSCommands.ping(to: &out)
        NATSCommands.pong(to: &out)
        let text = String(decoding: out, as: UTF8.self)
        #expect(text == "CONNECT {\"verbose\":false,\"pedantic\":false,\"tls_required\":false,\"lang\":\"swift\",\"version\":\"tickstream\","
            + "\"protocol\":1,\"headers\":true,\"no_responders\":true,\"echo\":true,\"name\":\"gw \\\"a\\\"\",\"auth_token\":\"t0k\"}\r\n"
            + "SUB md.AAPL 12\r\nUNSUB 12\r\nPUB md.X 2\r\n{}\r\nPUB md.X _INBOX.r.1 0\r\n\r\nPING\r\nPONG\r\n")
    }

    @Test func subjects() {
        for good in ["md.AAPL", "md.>", "a", "md.BRK.B", "_INBOX.x.*"] { #expect(NATSCommands.isValidSubject(good), "\(good)") }
        for bad in ["", ".a", "a.", "a..b", "a b", "a\tb", "a\r\nb"] { #expect(!NATSCommands.isValidSubject(bad), "\(bad.debugDescription)") }
    }
}

@Suite struct NATSServerURLTests {
    @Test func parsesListsWithCredentials() throws {
        let servers = try NATSServerURL.parseList("nats://127.0.0.1:4222, nats://user:p%40ss@nats-1:4223,tok3n@[::1]:4224,nats-2").get()
        #expect(servers == [
            NATSServerURL(host: "127.0.0.1", port: 4222),
            NATSServerURL(host: "nats-1", port: 4223, user: "user", password: "p@ss"),
            NATSServerURL(host: "::1", port: 4224, token: "tok3n"),
            NATSServerURL(host: "nats-2", port: 4222),
        ])
        #expect(servers[1].description == "nats://nats-1:4223")
        #expect(servers[2].description == "nats://[::1]:4224")
    }

    @Test func refusesWhatIsNotAServerAndHidesSecrets() {
        for (entry, reason) in [("http://a:1", "the scheme must be nats:// or tls://"), ("tls://a:0", "the port must be 1...65535"),
                                ("nats://a:0", "the port must be 1...65535"), ("nats://a:x", "the port must be 1...65535"),
                                ("nats://", "no host"), ("nats://a/b", "no path"), ("nats://a b:1", "invalid host"),
                                ("nats://@a:1", "empty credentials"), ("", "no server given")] {
            guard case .failure(let error) = NATSServerURL.parseList(entry) else {
                Issue.record("accepted \(entry)")
                continue
            }
            #expect(error.reason.contains(reason), "\(entry): \(error)")
        }
        guard case .failure(let error) = NATSServerURL.parseList("nats://user:secret@host:99999") else { return }
        #expect(!error.description.contains("secret"))
        #expect(error.description.contains("nats://***@host:99999"))
    }

    @Test func tlsURLsParseAndKeepTheirSchemeInLogs() throws {
        let servers = try NATSServerURL.parseList("tls://u:p@nats-1:4443, nats://nats-2").get()
        #expect(servers[0].tls && !servers[1].tls)
        #expect(servers.map(\.description) == ["tls://nats-1:4443", "nats://nats-2:4222"])
        if case .failure(let error) = NATSServerURL.parse("https://x") { #expect(error.reason == "the scheme must be nats:// or tls://") } else { Issue.record("https accepted") }
    }
}
