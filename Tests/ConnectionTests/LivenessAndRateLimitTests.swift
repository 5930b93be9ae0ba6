import Connection
import EventLoop
import Testing
import TestSupport
import WebSocket

@Suite struct LivenessAndRateLimitTests {
    /// Opens a server connection on /echo driven by a raw peer, past its 101.
    private func openEcho(_ loop: EventLoop, _ server: RecordingServer) throws -> (WebSocketConnection, RawPeer) {
        let (connection, peer) = try serverConnection(loop: loop, delegate: server)
        peer.requestUpgrade(path: "/echo")
        #expect(run(loop, until: { peer.readResponse()?.hasPrefix("HTTP/1.1 101") == true }))
        return (connection, peer)
    }

    private func events(_ loop: EventLoop, _ peer: RawPeer, count: Int) -> [RawPeer.Event] {
        var events: [RawPeer.Event] = []
        _ = run(loop, until: { events += peer.readEvents(); return events.count >= count })
        return events
    }

    /// A silent peer is pinged once per (spread) interval, a pong (or anything) resets its
    /// clock, and one silent through the idle timeout is closed with 1001.
    @Test func silentPeersArePingedThenClosedIdle() throws {
        let loop = try EventLoop()
        let server = RecordingServer()
        let (connection, peer) = try openEcho(loop, server)
        let policy = LivenessPolicy(pingInterval: 1_000_000_000, idleTimeout: 3_000_000_000)
        let due = policy.pingDelay(spreadKey: connection.socket.fd)
        #expect(due >= 1_000_000_000 && due < 1_250_000_000)
        let start = loop.now

        #expect(connection.checkLiveness(now: start + 500_000_000, policy: policy) == .alive)
        #expect(connection.checkLiveness(now: start + due - 1, policy: policy) == .alive)
        #expect(connection.checkLiveness(now: start + due, policy: policy) == .pinged)
        #expect(events(loop, peer, count: 1) == [.ping([])])
        // Still silent, but pinged less than an interval ago: no second ping yet.
        #expect(connection.checkLiveness(now: start + due + 500_000_000, policy: policy) == .alive)
        #expect(connection.checkLiveness(now: start + 2 * due, policy: policy) == .pinged)
        #expect(events(loop, peer, count: 1) == [.ping([])])

        // The pong arrives: the peer is heard from "now", so the next check is quiet.
        peer.send(.pong, [])
        run(loop, for: 0.05)
        let heard = loop.now
        #expect(connection.checkLiveness(now: heard + 500_000_000, policy: policy) == .alive)
        // An unsolicited pong counts as well.
        peer.send(.pong, Array("unsolicited".utf8))
        run(loop, for: 0.05)
        let heardAgain = loop.now  // within 50 ms after the pong was read
        #expect(connection.checkLiveness(now: heardAgain + 2_900_000_000, policy: policy) != .closedIdle)
        #expect(connection.checkLiveness(now: heardAgain + 3_000_000_000, policy: policy) == .closedIdle)
        let seen = events(loop, peer, count: 1)
        #expect(seen == [.close(1001)])
        #expect(server.closesSent == [1001])
        // Closed: further checks do nothing.
        #expect(connection.checkLiveness(now: heardAgain + 9_000_000_000, policy: policy) == .alive)
        peer.send(.close, [0x03, 0xE9])
        #expect(run(loop, until: { !server.ended.isEmpty }))
    }

    /// Pings of connections that fell silent together are spread over a quarter interval.
    @Test func pingsAreSpreadOverAQuarterInterval() {
        let policy = LivenessPolicy(pingInterval: 20_000_000_000, idleTimeout: 60_000_000_000)
        let delays = (Int32(5)..<Int32(2005)).map { policy.pingDelay(spreadKey: $0) }
        #expect(delays.allSatisfy { $0 >= 20_000_000_000 && $0 < 25_000_000_000 })
        // Spread, not clumped: every quarter of the range gets a fair share.
        let quarters = Dictionary(grouping: delays) { ($0 - 20_000_000_000) / 1_250_000_000 }.mapValues(\.count)
        #expect(quarters.count == 4 && quarters.values.allSatisfy { $0 > 350 })
    }

    /// The check interval is a tenth of the shorter period, within 50 ms...250 ms.
    @Test func livenessIsCheckedOftenEnoughButNotTooOften() {
        #expect(LivenessPolicy(pingInterval: 20_000_000_000, idleTimeout: 60_000_000_000).checkInterval == 250_000_000)
        #expect(LivenessPolicy(pingInterval: 2_000_000_000, idleTimeout: 6_000_000_000).checkInterval == 200_000_000)
        #expect(LivenessPolicy(pingInterval: 100_000_000, idleTimeout: 300_000_000).checkInterval == 50_000_000)
        #expect(LivenessPolicy(pingInterval: .max, idleTimeout: 5_000_000_000).checkInterval == 250_000_000)
    }

    /// Within the burst every message is served; past it each one is dropped (the session
    /// hears of the first of a run), pings included; a whole burst more closes with 1008.
    @Test func messagesOverTheRouteRateAreRefusedThenTheConnectionIsClosed() throws {
        let loop = try EventLoop()
        let server = RecordingServer()
        // One message per 100 s sustained: nothing refills during the test.
        server.messageRate = MessageRateLimit(perSecond: 1, burst: 3)
        let (_, peer) = try openEcho(loop, server)
        for index in 0..<3 { peer.sendText("m\(index)") }
        #expect(events(loop, peer, count: 3) == [.text("m0"), .text("m1"), .text("m2")])

        peer.sendText("over")
        peer.send(.ping, Array("over".utf8))
        run(loop, for: 0.1)
        #expect(peer.readEvents().isEmpty)  // no echo, no pong
        #expect(server.refusals == [true, false])
        #expect(server.closesSent.isEmpty)

        peer.sendText("still")
        peer.sendText("and still")  // the burst+1-th refusal in a row
        #expect(events(loop, peer, count: 1) == [.close(1008)])
        #expect(server.refusals == [true, false, false, false])
        #expect(server.closesSent == [1008])
    }

    /// The bucket refills at the sustained rate: after a pause the client may send again, and
    /// the next refusal is a "first" one again.
    @Test func theRateLimitRefillsAndForgivesAfterAPause() throws {
        let loop = try EventLoop()
        let server = RecordingServer()
        server.messageRate = MessageRateLimit(perSecond: 20, burst: 2)
        let (_, peer) = try openEcho(loop, server)
        for index in 0..<3 { peer.sendText("a\(index)") }
        #expect(events(loop, peer, count: 2) == [.text("a0"), .text("a1")])
        #expect(server.refusals == [true])
        run(loop, for: 0.12)  // two refills of 50 ms each
        for index in 0..<3 { peer.sendText("b\(index)") }
        #expect(events(loop, peer, count: 2) == [.text("b0"), .text("b1")])
        #expect(server.refusals == [true, true])
        #expect(server.closesSent.isEmpty)
    }

    /// Without a rate limit, a route takes messages as fast as they come.
    @Test func aRouteWithoutARateLimitTakesEveryMessage() throws {
        let loop = try EventLoop()
        let server = RecordingServer()
        let (_, peer) = try openEcho(loop, server)
        var seen: [RawPeer.Event] = []
        for batch in 0..<10 {
            // In batches: a socketpair's buffer holds a few hundred small writes.
            for index in 0..<100 { peer.send(.ping, Array("\(batch * 100 + index)".utf8)) }
            seen += events(loop, peer, count: 100)
        }
        #expect(seen.count == 1000 && seen.last == .pong(Array("999".utf8)))
        #expect(server.refusals.isEmpty)
    }
}
