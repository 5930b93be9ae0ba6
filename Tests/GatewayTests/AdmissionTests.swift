import Connection
import EventLoop
@testable import Gateway
import Glibc
import Testing
import TestSupport

private func peer(_ host: String, _ port: Int = 50000) -> SocketAddress { SocketAddress(host: host, port: port)! }

@Suite struct AdmissionTests {
    @Test func theConnectionLimitAnswersAFewThenDrops() {
        var admission = AdmissionControl(maxConnections: 2, maxPerAddress: nil, answerSlots: 2)
        #expect(admission.decide(open: 0, peer: peer("10.0.0.1")).verdict == .admit)
        #expect(admission.decide(open: 1, peer: peer("10.0.0.1")).verdict == .admit)
        #expect(admission.decide(open: 2, peer: peer("10.0.0.1")).verdict == .answer(.atCapacity))
        #expect(admission.decide(open: 3, peer: peer("10.0.0.1")).verdict == .answer(.atCapacity))
        #expect(admission.decide(open: 4, peer: peer("10.0.0.1")).verdict == .drop(.atCapacity))
        // Once connections leave, the next one is served again.
        #expect(admission.decide(open: 1, peer: peer("10.0.0.1")).verdict == .admit)
    }

    @Test func oneAddressIsLimitedWithoutLimitingOthers() {
        var admission = AdmissionControl(maxConnections: 100, maxPerAddress: 2, answerSlots: 10, answerSlotsPerAddress: 1)
        let first = admission.decide(open: 0, peer: peer("10.0.0.1", 1))
        #expect(first.verdict == .admit && first.source != nil)
        #expect(admission.decide(open: 1, peer: peer("10.0.0.1", 2)).verdict == .admit)
        // The same host through an IPv6 listener (v4-mapped) is the same address.
        #expect(admission.decide(open: 2, peer: peer("::ffff:10.0.0.1", 3)).verdict == .answer(.tooManyFromAddress))
        #expect(admission.decide(open: 3, peer: peer("10.0.0.1", 4)).verdict == .drop(.tooManyFromAddress))
        #expect(admission.decide(open: 3, peer: peer("10.0.0.2", 5)).verdict == .admit)
        #expect(admission.trackedAddresses == 2)
        // One of the first address's connections ends: it may connect once more.
        admission.release(first.source)
        #expect(admission.decide(open: 3, peer: peer("10.0.0.1", 6)).verdict == .answer(.tooManyFromAddress))
        admission.release(first.source)
        admission.release(first.source)
        #expect(admission.decide(open: 2, peer: peer("10.0.0.1", 7)).verdict == .admit)
    }

    @Test func addressesAreKeysWithoutPorts() {
        #expect(PeerAddress(peer("192.0.2.7", 1)) == PeerAddress(peer("192.0.2.7", 2)))
        #expect(PeerAddress(peer("192.0.2.7"))?.description == "192.0.2.7")
        #expect(PeerAddress(peer("::ffff:192.0.2.7"))?.description == "192.0.2.7")
        #expect(PeerAddress(peer("2001:db8::1")) != PeerAddress(peer("2001:db8::2")))
        #expect(PeerAddress(peer("2001:db8::1"))?.description == "2001:db8:0:0:0:0:0:1")
    }

    @Test func allowedOriginsMatchExactlyOrBySubdomain() throws {
        let policy = try OriginPolicy(["https://desk.example.com", "http://localhost:8080", "https://*.trading.example"])
        #expect(policy.allows("https://desk.example.com"))
        #expect(policy.allows("HTTPS://Desk.Example.com"))
        #expect(!policy.allows("http://desk.example.com"))
        #expect(!policy.allows("https://desk.example.com.evil.test"))
        #expect(policy.allows("http://localhost:8080"))
        #expect(!policy.allows("http://localhost:8081"))
        #expect(policy.allows("https://a.trading.example") && policy.allows("https://a.b.trading.example"))
        #expect(!policy.allows("https://trading.example"))
        #expect(!policy.allows("https://eviltrading.example"))
        #expect(!policy.allows("null"))
        for bad in ["desk.example.com", "ftp://x", "https://x/path", "https://*", "https://a.*.com", "https://"] {
            #expect(throws: OriginPolicyError.self) { try OriginPolicy([bad]) }
        }
    }

    /// Through the registry: connections over the limit get a 503 with Retry-After (or 429 for
    /// one address) to their first request and are closed; the counts come back when they end.
    @Test func theRegistryAnswersOverTheLimitAndServesAgainAfter() throws {
        let harness = try GatewayHarness { $0.maxConnections = 1; $0.maxConnectionsPerAddress = 5 }
        let (served, _) = harness.subscriber(protocols: ["v2"])
        let (ours, theirs) = socketPair()
        harness.registry.accept(ours, from: peer("127.0.0.1"))
        let refused = RawPeer(fd: theirs)
        refused.requestUpgrade(path: "/ws")
        var response: String?
        #expect(run(harness.loop, until: { response = refused.readResponse(); return response != nil }))
        #expect(response?.hasPrefix("HTTP/1.1 503") == true && response?.contains("Retry-After: 1") == true)
        #expect(run(harness.loop, until: { harness.registry.count == 1 }))
        #expect(harness.context.metrics.refusedConnections["max_connections"] == 1)

        // The served client leaves; a new one is served.
        served.send(.close, [0x03, 0xE8])
        #expect(run(harness.loop, until: { harness.registry.count == 0 }))
        let (next, _) = harness.subscriber(protocols: ["v1"])
        next.send(.close, [0x03, 0xE8])
        #expect(run(harness.loop, until: { harness.registry.count == 0 }))
        #expect(harness.registry.trackedAddresses == 0)
    }
}
