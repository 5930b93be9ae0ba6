import HTTP
import Testing

@Suite struct HTTPRequestParserTests {
    let parser = HTTPRequestParser(maxHeaderBytes: 256, maxBodyBytes: 100)

    func parse(_ text: String) -> HTTPRequestParser.Result {
        Array(text.utf8).withUnsafeBytes { parser.parse($0) }
    }

    @Test func parsesRequestLineAndHeaders() throws {
        let request = "GET /ws?token=1 HTTP/1.1\r\nHost: example\r\nUpgrade:  websocket \r\nConnection: keep-alive, Upgrade\r\n\r\nextra"
        guard case .complete(let head, let consumed) = parse(request) else {
            Issue.record("expected a complete head")
            return
        }
        #expect(head.method == "GET")
        #expect(head.target == "/ws?token=1")
        #expect(head.path == "/ws")
        #expect(head.minorVersion == 1)
        #expect(head.header("UPGRADE") == "websocket")
        #expect(head.hasToken("connection", "upgrade"))
        #expect(head.tokens("connection") == ["keep-alive", "Upgrade"])
        #expect(consumed == request.utf8.count - "extra".utf8.count)
    }

    @Test func waitsForTheBlankLineAtEverySplitPoint() {
        let request = Array("GET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
        for split in 0..<request.count {
            let result = Array(request[0..<split]).withUnsafeBytes { parser.parse($0) }
            #expect(result == .needMore, "split at \(split)")
        }
        let whole = request.withUnsafeBytes { parser.parse($0) }
        guard case .complete(_, let consumed) = whole else {
            Issue.record("whole request should parse")
            return
        }
        #expect(consumed == request.count)
    }

    @Test func oversizedHeadIs431() {
        let big = "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + String(repeating: "a", count: 300) + "\r\n\r\n"
        #expect(parse(big) == .failure(.headerFieldsTooLarge))
        // Too large even before the end arrives: no need to wait for the rest.
        #expect(parse(String(big.prefix(260))) == .failure(.headerFieldsTooLarge))
    }

    /// A request shown escaped in test output.
    struct RawRequest: CustomTestStringConvertible, ExpressibleByStringLiteral, Sendable {
        let text: String
        init(stringLiteral text: String) { self.text = text }
        var testDescription: String { text.debugDescription }
    }

    @Test(arguments: [
        "GET / HTTP/1.1\r\n Host: a\r\n\r\n",            // folded line
        "GET / HTTP/1.1\r\nHost : a\r\n\r\n",            // space before colon
        "GET / HTTP/1.1\r\nHost a\r\n\r\n",              // no colon
        "GET  / HTTP/1.1\r\nHost: a\r\n\r\n",            // double space
        "GET noslash HTTP/1.1\r\nHost: a\r\n\r\n",       // target not origin-form
        "GET / HTTP/1.1\nHost: a\r\n\r\n",               // bare LF
        "GET / FTP/1.1\r\nHost: a\r\n\r\n",              // not HTTP
        "GET / HTTP/1.1\r\n\r\n",                        // HTTP/1.1 without Host
        "G(T / HTTP/1.1\r\nHost: a\r\n\r\n",             // method not a token
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    ] as [RawRequest])
    func malformedRequestsAre400(_ request: RawRequest) {
        #expect(parse(request.text) == .failure(.badRequest))
    }

    @Test func otherStatuses() {
        #expect(parse("GET / HTTP/2.0\r\nHost: a\r\n\r\n") == .failure(.versionNotSupported))
        #expect(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n") == .failure(.notImplemented))
        #expect(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 101\r\n\r\n") == .failure(.payloadTooLarge))
    }

    @Test func keepAliveFollowsVersionAndConnectionHeader() throws {
        func head(_ text: String) -> HTTPRequestHead? {
            if case .complete(let head, _) = parse(text) { return head }
            return nil
        }
        #expect(head("GET / HTTP/1.1\r\nHost: a\r\n\r\n")?.keepAlive == true)
        #expect(head("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")?.keepAlive == false)
        #expect(head("GET / HTTP/1.0\r\n\r\n")?.keepAlive == false)
    }

    @Test func responseSerialisation() {
        let response = HTTPResponse(status: .notFound, contentType: "text/plain", body: "no\n")
        let text = String(decoding: response.serialized(keepAlive: false), as: UTF8.self)
        #expect(text == "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nno\n")
    }
}
