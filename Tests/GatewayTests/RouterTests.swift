import Connection
@testable import Gateway
import HTTP
import Testing

private func head(_ text: String) -> HTTPRequestHead {
    let bytes = Array((text + "\r\n\r\n").utf8)
    guard case .complete(let head, _) = bytes.withUnsafeBytes({ HTTPRequestParser(maxHeaderBytes: 8192, maxBodyBytes: 0).parse($0) }) else {
        fatalError("test request did not parse")
    }
    return head
}

private func upgrade(_ path: String, _ extra: String = "") -> HTTPRequestHead {
    head("GET \(path) HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13" + extra)
}

@Suite struct RouterTests {
    let harness: GatewayHarness

    init() throws {
        harness = try GatewayHarness()
        harness.router.addHTTP("/health/live", methods: ["GET", "HEAD"]) { _, _ in
            HTTPResponse(status: .ok, contentType: "text/plain", body: "ok")
        }
        harness.router.addWebSocket("/feed", endpoint: FeedEndpoint(token: "secret", context: harness.context, service: harness.service, ingest: harness.service))
    }

    private func status(_ result: RouteResult) -> Int {
        switch result {
        case .respond(let response): return response.status.code
        case .upgrade: return 101
        }
    }

    @Test func plainRoutesCheckTheMethodAndUnknownPathsAre404() {
        let router = harness.router
        #expect(status(router.route(head("GET /health/live HTTP/1.1\r\nHost: x"), body: .init(start: nil, count: 0), draining: false)) == 200)
        #expect(status(router.route(head("GET /nope HTTP/1.1\r\nHost: x"), body: .init(start: nil, count: 0), draining: false)) == 404)
        guard case .respond(let response) = router.route(head("DELETE /health/live HTTP/1.1\r\nHost: x"), body: .init(start: nil, count: 0), draining: false) else {
            Issue.record("expected a response")
            return
        }
        #expect(response.status.code == 405)
        #expect(response.headers.contains { $0.name == "Allow" && $0.value == "GET, HEAD" })
    }

    @Test func upgradesNegotiateTheFirstSupportedSubprotocol() {
        guard case .upgrade(let endpoint, let subprotocol, _, _, let response) = harness.router.route(
            upgrade("/ws", "\r\nSec-WebSocket-Protocol: v3, v2, v1"), body: .init(start: nil, count: 0), draining: false) else {
            Issue.record("expected an upgrade")
            return
        }
        #expect(subprotocol == "v2")
        #expect(endpoint is MarketDataEndpoint)
        #expect(endpoint.limits == RouteLimits(maxMessageBytes: harness.context.configuration.maxMessageBytes,
                                               messageRate: MessageRateLimit(perSecond: 100, burst: 500)))
        #expect(response.status.code == 101)
        guard case .upgrade(_, let none, _, _, _) = harness.router.route(upgrade("/ws", "\r\nSec-WebSocket-Protocol: v9"), body: .init(start: nil, count: 0), draining: false) else {
            Issue.record("expected an upgrade")
            return
        }
        #expect(none == nil, "nothing supported offered: v1 without a Sec-WebSocket-Protocol header")
    }

    @Test func badHandshakesAndDrainingAreRefusedWithTheirStatus() {
        let router = harness.router
        let empty = UnsafeRawBufferPointer(start: nil, count: 0)
        #expect(status(router.route(head("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13"),
                                    body: empty, draining: false)) == 400)
        #expect(status(router.route(upgrade("/ws").replacingVersion("8"), body: empty, draining: false)) == 426)
        guard case .respond(let draining) = router.route(upgrade("/ws"), body: empty, draining: true) else {
            Issue.record("expected 503")
            return
        }
        #expect(draining.status.code == 503)
        #expect(draining.headers.contains { $0.name == "Retry-After" })
        #expect(status(router.route(upgrade("/feed", "\r\nSec-WebSocket-Protocol: feed.v1"), body: empty, draining: false)) == 401)
        #expect(status(router.route(upgrade("/feed", "\r\nSec-WebSocket-Protocol: feed.v1\r\nAuthorization: Bearer secret"),
                                    body: empty, draining: false)) == 101)
    }
}

extension HTTPRequestHead {
    fileprivate func replacingVersion(_ version: String) -> HTTPRequestHead {
        var copy = self
        copy.headers = headers.map { $0.name.lowercased() == "sec-websocket-version" ? ($0.name, version) : $0 }
        return copy
    }
}
