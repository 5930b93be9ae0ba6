import EventLoop
@testable import Gateway
import MarketData
import Testing
import TestSupport

@Suite struct ConflationTests {
    /// A subscriber that stops reading: past --max-queue-bytes its updates are conflated
    /// (newest per symbol, the rest dropped and counted); once it reads again the queue drains
    /// and the newest update of every symbol follows, so it ends on the current state.
    @Test func aSlowSubscriberIsConflatedThenCaughtUpWithTheNewestOfEachSymbol() throws {
        let harness = try GatewayHarness { $0.maxQueueBytes = 8192; $0.slowConsumerTimeout = 30 }
        let (peer, connection) = harness.subscriber(protocols: ["v2"], smallSendBuffer: true)
        let session = harness.session(of: connection)
        var newest: [Int: Int] = [:]
        for n in 0..<200 {
            let symbol = n % 4
            session.deliver(GatewayHarness.update("s\(symbol)-n\(n)"), symbol: SymbolID(symbol))
            newest[symbol] = n
            harness.loop.runOnce(maxWait: 0)
        }
        #expect(session.isConflating)
        #expect(harness.context.metrics.conflationEpisodes == 1)
        #expect(harness.context.metrics.conflatedUpdates > 0)

        let texts = harness.readUntilQuiet(peer).compactMap { event -> String? in
            if case .text(let text) = event { return String(text.prefix(while: { $0 != "|" })) }
            return nil
        }
        #expect(!session.isConflating)
        #expect(texts.count < 200, "some updates must have been conflated away")
        for symbol in 0..<4 {
            let last = texts.last { $0.hasPrefix("s\(symbol)-") }
            #expect(last == "s\(symbol)-n\(newest[symbol]!)", "symbol \(symbol) must end on its newest update")
        }
        // Per symbol, updates never arrive out of order.
        for symbol in 0..<4 {
            let numbers = texts.filter { $0.hasPrefix("s\(symbol)-") }.compactMap { Int($0.split(separator: "n").last!) }
            #expect(numbers == numbers.sorted())
        }
    }

    @Test func aSubscriberStillBehindAfterTheTimeoutIsClosedWith1008() throws {
        let harness = try GatewayHarness { $0.maxQueueBytes = 8192; $0.slowConsumerTimeout = 0.2 }
        let (peer, connection) = harness.subscriber(protocols: ["v1"], smallSendBuffer: true)
        let session = harness.session(of: connection)
        for n in 0..<100 {
            session.deliver(GatewayHarness.update("n\(n)"), symbol: SymbolID(n % 3))
            harness.loop.runOnce(maxWait: 0)
        }
        #expect(session.isConflating)
        run(harness.loop, for: 0.4)
        #expect(harness.context.metrics.slowConsumerCloses == 1)
        #expect(connection.closeSent)
        let events = harness.readUntilQuiet(peer)
        #expect(events.last == .close(1008))
    }
}
