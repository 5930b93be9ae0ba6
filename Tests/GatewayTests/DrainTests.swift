import EventLoop
@testable import Gateway
import MarketData
import Testing
import TestSupport

@Suite struct DrainTests {
    /// Eviction comes in batches spread over --drain-duration, and each client gets, in
    /// order: everything queued before, the v2 reconnect notice (v2 only), then Close 1001.
    /// The drain finishes when the last client is gone.
    @Test func evictsInBatchesAndFlushesThenNotifiesThenCloses() throws {
        let harness = try GatewayHarness { $0.drainGrace = 0; $0.drainDuration = 0.3; $0.drainTimeout = 20; $0.closeTimeout = 10 }
        var finished = 0
        var released = 0
        let drain = DrainController(context: harness.context, connections: harness.registry,
                                    releaseSharedListener: { released += 1 }, finished: { finished += 1 })
        harness.registry.onConnectionEnded = { drain.connectionClosed() }
        let subscribers = (0..<6).map { i in harness.subscriber(protocols: [i < 4 ? "v2" : "v1"], smallSendBuffer: true) }
        // A backlog each, still queued in the gateway when the eviction comes.
        for (i, subscriber) in subscribers.enumerated() {
            let session = harness.session(of: subscriber.connection)
            for n in 0..<40 { session.deliver(GatewayHarness.update("c\(i)-n\(n)", size: 1000), symbol: SymbolID(0)) }
        }
        drain.begin(trigger: "test")
        #expect(harness.context.drainPhase == .grace)
        #expect(released == 0, "without --reuse-port the listener stays, answering 503")
        var steps: [UInt64] = []
        run(harness.loop, until: {
            let evicted = harness.context.metrics.drainEvictions
            if evicted != steps.last ?? 0 { steps.append(evicted) }
            return evicted == 6
        })
        #expect(steps == [2, 4, 6], "three batches of two over 0.3 s")

        for (i, subscriber) in subscribers.enumerated() {
            let events = harness.readUntilQuiet(subscriber.peer)
            let updates = (0..<40).map { RawPeer.Event.text("c\(i)-n\($0)|" + String(repeating: "x", count: 1000 - "c\(i)-n\($0)".utf8.count - 1)) }
            let tail: [RawPeer.Event] = i < 4 ? [events.dropLast().last ?? .close(nil), .close(1001)] : [.close(1001)]
            #expect(Array(events.prefix(40)) == updates, "client \(i): the backlog first, in order")
            #expect(Array(events.suffix(tail.count)) == tail)
            #expect(events.count == 40 + tail.count)
            if i < 4, case .text(let notice) = events[40] {
                #expect(notice.hasPrefix(#"{"type":"reconnect","reason":"draining","retry_after_ms":"#))
            } else if i < 4 {
                Issue.record("client \(i): no reconnect notice")
            }
            subscriber.peer.send(.close, [0x03, 0xE9])
            subscriber.peer.shutdownWrite()
        }
        #expect(run(harness.loop, until: { finished == 1 }))
        #expect(harness.context.drainPhase == .finished)
        #expect(harness.registry.count == 0)
    }

    @Test func withReusePortTheSharedListenerIsReleasedAtOnce() throws {
        let harness = try GatewayHarness { $0.reusePort = true; $0.drainGrace = 1; $0.drainTimeout = 5 }
        var released = 0
        let drain = DrainController(context: harness.context, connections: harness.registry,
                                    releaseSharedListener: { released += 1 }, finished: {})
        drain.begin(trigger: "test")
        drain.begin(trigger: "again")
        #expect(released == 1)
        #expect(harness.context.isDraining)
    }

    /// A client that never answers the Close does not hold the process past --drain-timeout.
    @Test func theHardTimeoutCutsWhatRemains() throws {
        let harness = try GatewayHarness { $0.drainGrace = 0; $0.drainDuration = 0; $0.drainTimeout = 0.3; $0.closeTimeout = 10 }
        var finished = 0
        let drain = DrainController(context: harness.context, connections: harness.registry,
                                    releaseSharedListener: {}, finished: { finished += 1 })
        harness.registry.onConnectionEnded = { drain.connectionClosed() }
        let silent = harness.subscriber(protocols: ["v2"])
        drain.begin(trigger: "test")
        #expect(run(harness.loop, until: { finished == 1 }, seconds: 2))
        #expect(harness.context.metrics.drainForcedCloses == 1)
        _ = silent
    }
}
