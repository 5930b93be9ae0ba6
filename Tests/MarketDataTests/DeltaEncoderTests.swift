import ByteBuffers
import Testing
import WebSocket
@testable import MarketData

private func level(_ bid: String, _ bidSize: Int64, _ ask: String, _ askSize: Int64) -> BookLevel {
    BookLevel(bidPrice: FixedPoint.parse(bid)!, bidSize: FixedPoint(bidSize), askPrice: FixedPoint.parse(ask)!, askSize: FixedPoint(askSize))
}

private let base = BookState(last: FixedPoint(100), bid: FixedPoint(99), ask: FixedPoint(101),
                             levels: [level("99", 300, "101", 200), level("98", 500, "102", 100), level("97", 700, "103", 900)],
                             seq: 41, timestamp: 1_000)

private func delta(_ to: BookState, depth: Int = 10, from: BookState = base) -> String? {
    var writer = ByteWriter()
    return DeltaEncoder.write(symbol: "X", from: from, to: to, depth: depth, into: &writer) ? writer.string : nil
}

@Suite struct DeltaEncoderTests {
    @Test func aSizeChangeIsOnePriceAndItsSize() {
        var next = base
        next.seq = 42
        next.timestamp = 1_001
        next.levels[1].askSize = FixedPoint(400)
        #expect(delta(next) == #"{"symbol":"X","seq":42,"ts":1001,"asks":[[102,400]]}"#)
    }

    @Test func aTradeAndAQuoteMoveAreKeyedByPrice() {
        // The quote moves up a tick: a new best bid, the best ask taken, a fresh far ask; the
        // ladder shifts, but by price only four entries change.
        var next = base
        next.seq = 42
        next.last = FixedPoint(101)
        next.bid = FixedPoint(100)
        next.ask = FixedPoint(102)
        next.levels = [level("100", 50, "102", 100), level("99", 300, "103", 900), level("98", 500, "104", 800)]
        #expect(delta(next) == #"{"symbol":"X","seq":42,"ts":1000,"last":101,"bid":100,"ask":102,"bids":[[100,50],[97,0]],"asks":[[101,0],[104,800]]}"#)
        // Within a depth of 1, only the top level is in view.
        #expect(delta(next, depth: 1) == #"{"symbol":"X","seq":42,"ts":1000,"last":101,"bid":100,"ask":102,"bids":[[100,50],[99,0]],"asks":[[101,0],[102,100]]}"#)
    }

    @Test func aShorterBookRemovesWhatLeftTheView() {
        var next = base
        next.seq = 42
        next.levels.removeLast()
        #expect(delta(next) == #"{"symbol":"X","seq":42,"ts":1000,"bids":[[97,0]],"asks":[[103,0]]}"#)
    }

    @Test func nothingInViewChangedIsStillAnUpdate() {
        var next = base
        next.seq = 42
        next.levels[2].bidSize = FixedPoint(1)
        #expect(delta(next, depth: 2) == #"{"symbol":"X","seq":42,"ts":1000}"#)
    }

    @Test func onlyTheStateJustBeforeIsABase() {
        var next = base
        next.seq = 43  // a gap: the client may hold 41 or 42
        #expect(delta(next) == nil)
    }

    @Test func aBookNotOrderedByPriceGoesWhole() {
        var next = base
        next.seq = 42
        next.levels[1].bidPrice = FixedPoint(99)  // two bids at one price
        #expect(delta(next) == nil)
        next = base
        next.seq = 42
        next.levels[2].askSize = .zero  // a size of 0 would read as a removal
        #expect(delta(next) == nil)
    }
}

@Suite struct DeltaFanOutTests {
    private func text(_ frame: SharedBytes) -> String {
        frame.withBytes { bytes in
            let header = bytes[1] & 0x7F == 126 ? 4 : 2
            return String(decoding: bytes.dropFirst(header), as: UTF8.self)
        }
    }

    @Test func oneDeltaPerVariantSharedByItsSubscribersAfterAWholeFirst() {
        let registry = SubscriptionRegistry()
        let fanOut = FanOut(registry: registry)
        let delta = (0..<100).map { _ in RecordingSubscriber() }
        let whole = RecordingSubscriber()
        for s in delta { registry.subscribe(s, to: 3, variant: .v2(depth: 10, delta: true)) }
        registry.subscribe(whole, to: 3, variant: .v2(depth: 10))
        var store = BookStore()
        var market = SimulatedMarket(symbols: [(3, "X", FixedPoint(100))])
        for t in 1...50 {
            let (symbol, name, state) = market.step(store: &store, timestamp: Int64(t))
            fanOut.publish(symbol: symbol, name: name, state: state)
        }
        // No base before the first update: it goes whole; then 49 deltas, each encoded once.
        #expect(fanOut.deltaFallbacks == 1 && fanOut.deltaEncodings == 49)
        #expect(fanOut.encodings == 100)
        #expect(Set(delta.map { ObjectIdentifier($0.frames[7].1) }).count == 1)
        #expect(text(delta[0].frames[0].1).contains(#""depth":"#))
        #expect(!text(delta[0].frames[1].1).contains(#""depth":"#))
        let deltaBytes = delta[0].frames.dropFirst().map(\.1.count).reduce(0, +)
        let wholeBytes = whole.frames.dropFirst().map(\.1.count).reduce(0, +)
        #expect(deltaBytes * 3 < wholeBytes, "deltas \(deltaBytes) B, whole states \(wholeBytes) B")
    }

    @Test func aStateReplacedWithoutAnUpdateSendsTheNextWhole() {
        let registry = SubscriptionRegistry()
        let fanOut = FanOut(registry: registry)
        let s = RecordingSubscriber()
        registry.subscribe(s, to: 0, variant: .v2(depth: 5, delta: true))
        var state = sampleState
        fanOut.publish(symbol: 0, name: "AAPL", state: state)
        state.seq += 1
        fanOut.publish(symbol: 0, name: "AAPL", state: state)
        #expect(fanOut.deltaEncodings == 1)
        fanOut.stateReplaced(0)
        state.seq += 1
        fanOut.publish(symbol: 0, name: "AAPL", state: state)
        #expect(fanOut.deltaEncodings == 1 && fanOut.deltaFallbacks == 2)
        // With no delta subscriber for an update, the base is dropped too.
        registry.unsubscribe(s, from: 0)
        state.seq += 1
        fanOut.publish(symbol: 0, name: "AAPL", state: state)
        registry.subscribe(s, to: 0, variant: .v2(depth: 5, delta: true))
        state.seq += 1
        fanOut.publish(symbol: 0, name: "AAPL", state: state)
        #expect(fanOut.deltaFallbacks == 3)
    }

    @Test func deltaVariantsKeepTheWholeStateIndexesOfOlderBuilds() {
        #expect(ProtocolVariant.v2(depth: 10).index == 20)
        #expect(ProtocolVariant.v2(depth: 10).compressed.index == 21)
        let delta = ProtocolVariant.v2(depth: 10, delta: true).compressed
        #expect(delta.isDelta && delta.isCompressed && delta.depth == 10 && delta.version == .v2)
        #expect(delta.whole == ProtocolVariant.v2(depth: 10).compressed)
        #expect(delta.plain == ProtocolVariant.v2(depth: 10, delta: true))
        #expect(ProtocolVariant.v2(depth: 50, delta: true).compressed.index == ProtocolVariant.count - 1)
    }
}
