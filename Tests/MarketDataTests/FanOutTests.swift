import ByteBuffers
import Testing
import WebSocket
@testable import MarketData

final class RecordingSubscriber: Subscriber {
    var frames: [(SymbolID, SharedBytes)] = []
    override func deliver(_ frame: SharedBytes, symbol: SymbolID) { frames.append((symbol, frame)) }
}

@Suite struct FanOutTests {
    @Test func encodesOncePerVariantHoweverManySubscribers() {
        let registry = SubscriptionRegistry()
        let fanOut = FanOut(registry: registry)
        let v1 = (0..<1000).map { _ in RecordingSubscriber() }
        let v2d5 = (0..<500).map { _ in RecordingSubscriber() }
        let v2d1 = (0..<3).map { _ in RecordingSubscriber() }
        for s in v1 { registry.subscribe(s, to: 7, variant: .v1) }
        for s in v2d5 { registry.subscribe(s, to: 7, variant: .v2(depth: 5)) }
        for s in v2d1 { registry.subscribe(s, to: 7, variant: .v2(depth: 1)) }
        fanOut.publish(symbol: 7, name: "AAPL", state: sampleState)
        #expect(fanOut.encodings == 3)
        #expect(fanOut.deliveries == 1503)
        // Every subscriber of a variant holds the very same bytes.
        #expect(Set(v1.map { ObjectIdentifier($0.frames[0].1) }).count == 1)
        #expect(Set(v2d5.map { ObjectIdentifier($0.frames[0].1) }).count == 1)
        #expect(v1[0].frames[0].1 !== v2d5[0].frames[0].1)
        #expect(v1[0].frames.map(\.0) == [7])
        let v1Text = v1[0].frames[0].1.withBytes { String(decoding: $0.dropFirst(2), as: UTF8.self) }
        #expect(v1Text == #"{"symbol":"AAPL","price":189.25}"#)
    }

    @Test func unsubscribeKeepsEveryoneElseReachable() {
        let registry = SubscriptionRegistry()
        let fanOut = FanOut(registry: registry)
        let subscribers = (0..<10).map { _ in RecordingSubscriber() }
        for s in subscribers { registry.subscribe(s, to: 1, variant: .v1) }
        // Remove from the middle, the front and the end: swap-remove must fix positions.
        for index in [4, 0, 9] { registry.unsubscribe(subscribers[index], from: 1) }
        fanOut.publish(symbol: 1, name: "X", state: sampleState)
        let received = subscribers.enumerated().filter { !$0.element.frames.isEmpty }.map(\.offset)
        #expect(received == [1, 2, 3, 5, 6, 7, 8])
        #expect(registry.subscriberCount(of: 1) == 7)
        #expect(registry.totalSubscriptions == 7)
        for s in subscribers { registry.unsubscribeAll(s) }
        #expect(registry.totalSubscriptions == 0)
        fanOut.publish(symbol: 1, name: "X", state: sampleState)
        #expect(fanOut.encodings == 1)  // nobody left: nothing encoded
    }

    @Test func changingDepthMovesTheSubscriber() {
        let registry = SubscriptionRegistry()
        let fanOut = FanOut(registry: registry)
        let s = RecordingSubscriber()
        registry.subscribe(s, to: 2, variant: .v2(depth: 1))
        #expect(registry.subscribe(s, to: 2, variant: .v2(depth: 2)))
        #expect(!registry.subscribe(s, to: 2, variant: .v2(depth: 2)))
        fanOut.publish(symbol: 2, name: "X", state: sampleState)
        #expect(s.frames.count == 1)
        #expect(fanOut.encodings == 1)
        #expect(s.subscriptionSlots[2]?.variant == .v2(depth: 2))
    }
}

@Suite struct FeedAndStoreTests {
    @Test func storeAssignsConsecutiveSeq() {
        var store = BookStore()
        #expect(store.state(of: 3) == nil)
        let first = store.update(3) { $0.last = FixedPoint(1) }
        let second = store.update(3) { $0.last = FixedPoint(2) }
        #expect(first.seq == 1)
        #expect(second.seq == 2)
        #expect(store.state(of: 3)?.last == FixedPoint(2))
    }

    @Test func simulatorWalksRoundRobinWithAFullBook() {
        var store = BookStore()
        var market = SimulatedMarket(symbols: [(0, "A", FixedPoint(100)), (1, "B", FixedPoint(50))])
        let ids = (0..<4).map { _ in market.step(store: &store, timestamp: 1).0 }
        #expect(ids == [0, 1, 0, 1])
        let state = store.state(of: 0)!
        #expect(state.seq == 2)
        #expect(state.levels.count == 50)
        #expect(state.bid < state.ask)
        #expect(state.levels[0].bidPrice == state.bid && state.levels[0].askPrice == state.ask)
        #expect(state.levels[49].bidPrice < state.levels[0].bidPrice)
        #expect(state.last == state.bid || state.last == state.ask)
    }

    @Test func generatedNamesArePadded() {
        #expect(SimulatedMarket.generatedSymbols(count: 11).suffix(2) == ["SYM0009", "SYM0010"])
        #expect(SimulatedMarket.startingPrice(for: "AAPL", index: 5).description == "189.25")
    }

    func decodeFeed(_ text: String) -> (updates: [(Int, FeedUpdate)], errors: [(Int, String)], failure: CommandError?) {
        var decoder = FeedDecoder()
        var updates: [(Int, FeedUpdate)] = []
        var errors: [(Int, String)] = []
        let failure = Array(text.utf8).withUnsafeBytes {
            decoder.decode($0, onUpdate: { updates.append(($0, $1)) }, onError: { errors.append(($0, $1)) })
        }
        return (updates, errors, failure)
    }

    @Test func batchAppliesValidUpdatesAndNamesInvalidOnes() {
        let result = decodeFeed(#"""
        [{"symbol":"AAPL","last":189.25,"bid":189.24,"ask":189.26,"book":[[189.24,300,189.26,200]],"ts":5},
         {"symbol":"bad","last":1,"bid":1,"ask":1},
         {"symbol":"MSFT","last":"x","bid":1,"ask":1,"book":[[1,2,3,4]]},
         {"symbol":"MSFT","last":1,"bid":1},
         {"symbol":"MSFT","last":1.123456789,"bid":1,"ask":1},
         {"symbol":"MSFT","last":1,"bid":1,"ask":1,"book":[[1,2,3]]},
         7,
         {"symbol":"NVDA","last":122.4,"bid":122.39,"ask":122.41,"seq":99}]
        """#)
        #expect(result.failure == nil)
        #expect(result.updates.map(\.0) == [0, 7])
        #expect(result.errors.map(\.0) == [1, 2, 3, 4, 5, 6])
        let aapl = result.updates[0].1
        #expect(aapl.symbol == "AAPL" && aapl.last.description == "189.25" && aapl.timestamp == 5)
        #expect(aapl.hasBook && aapl.book.count == 1 && aapl.book[0].askSize == FixedPoint(200))
        let nvda = result.updates[1].1
        #expect(nvda.symbol == "NVDA" && nvda.timestamp == nil && !nvda.hasBook)
    }

    @Test func brokenMessagesApplyNothing() {
        let truncated = decodeFeed(#"[{"symbol":"AAPL","last":1,"bid":1,"ask":1},{"symbol":"#)
        #expect(truncated.failure?.code == "invalid_json")
        #expect(truncated.updates.isEmpty)
        #expect(decodeFeed("42").failure?.code == "invalid_message")
        let tooDeep = decodeFeed(#"{"symbol":"A","last":1,"bid":1,"ask":1,"book":["# + String(repeating: "[1,1,1,1],", count: 50) + "[1,1,1,1]]}")
        #expect(tooDeep.errors.first?.1.contains("more than 50 levels") == true)
    }
}

@Suite struct CompressedFanOutTests {
    /// Subscribers that negotiated deflate get one compressed frame per variant, shared by
    /// all of them: 1,000 compressed subscribers cost one compression per update.
    @Test func compressesOncePerVariantNotPerSubscriber() {
        let registry = SubscriptionRegistry()
        let fanOut = FanOut(registry: registry)
        fanOut.deflater = MessageDeflater(windowBits: 9)
        fanOut.deflateMinBytes = 100
        let compressed = (0..<1000).map { _ in RecordingSubscriber() }
        let plain = (0..<10).map { _ in RecordingSubscriber() }
        let compressedV1 = (0..<10).map { _ in RecordingSubscriber() }
        for s in compressed { registry.subscribe(s, to: 3, variant: ProtocolVariant.v2(depth: 5).compressed) }
        for s in plain { registry.subscribe(s, to: 3, variant: .v2(depth: 5)) }
        for s in compressedV1 { registry.subscribe(s, to: 3, variant: ProtocolVariant.v1.compressed) }
        for _ in 0..<3 { fanOut.publish(symbol: 3, name: "AAPL", state: sampleState) }
        // v2 depth 5 compressed: one deflate per update; v1 is below --deflate-min-bytes.
        #expect(fanOut.compressions == 3)
        #expect(fanOut.bytesAfterCompression < fanOut.bytesBeforeCompression)
        #expect(Set(compressed.map { ObjectIdentifier($0.frames[0].1) }).count == 1)
        let frame = compressed[0].frames[0].1
        #expect(frame.withBytes { $0[0] } == 0xC1)  // FIN, RSV1, text
        // Inflated, it is exactly what plain subscribers of the same variant got.
        let inflater = MessageInflater()
        let inflated = frame.withBytes { bytes -> [UInt8] in
            let payload = UnsafeRawBufferPointer(rebasing: bytes[(bytes[1] == 126 ? 4 : 2)...])
            return (try? inflater.inflate(payload, limit: 1 << 16, keepContext: false).get()).map(Array.init) ?? []
        }
        #expect(inflated == plain[0].frames[0].1.withBytes { Array($0.dropFirst($0[1] == 126 ? 4 : 2)) })
        // A short message goes out plain: the compressed v1 group shares the plain v1 frame bytes.
        #expect(compressedV1[0].frames[0].1.withBytes { $0[0] } == 0x81)
    }

    @Test func snapshotsOfCompressedVariantsAreCompressed() {
        let fanOut = FanOut(registry: SubscriptionRegistry())
        fanOut.deflater = MessageDeflater(windowBits: 9)
        let frame = fanOut.encode(name: "AAPL", state: sampleState, variant: ProtocolVariant.v2(depth: 5).compressed)
        #expect(frame.withBytes { $0[0] } == 0xC1)
        let plain = fanOut.encode(name: "AAPL", state: sampleState, variant: .v2(depth: 5))
        #expect(plain.withBytes { $0[0] } == 0x81)
        #expect(fanOut.snapshotCompressions == 1 && fanOut.compressions == 0)
    }
}
