import ByteBuffers
import Testing
@testable import MarketData

/// The market bus's message (a symbol's whole state with its `seq`) and how an instance applies
/// one: newer only, gaps counted, the same frame on every instance.
@Suite struct BusMessageTests {
    func decodeBus(_ text: String) -> (updates: [FeedUpdate], errors: [String], failure: CommandError?) {
        var decoder = FeedDecoder(busMessages: true)
        var updates: [FeedUpdate] = []
        var errors: [String] = []
        let failure = Array(text.utf8).withUnsafeBytes {
            decoder.decode($0, onUpdate: { updates.append($1) }, onError: { errors.append($1) })
        }
        return (updates, errors, failure)
    }

    @Test func aBusMessageIsTheWholeStateAndDecodesBackToIt() throws {
        var state = sampleState
        state.seq = 41
        let text = encoded { UpdateEncoder.writeBusState(symbol: "AAPL", state: state, to: &$0) }
        #expect(text == #"{"symbol":"AAPL","last":189.25,"bid":189.24,"ask":189.26,"book":[[189.24,300,189.26,200],[189.23,500,189.27,0.5]],"seq":41,"ts":1764165600123456}"#)
        let decoded = try #require(decodeBus(text).updates.first)
        #expect(decoded.sequence == 41)
        var applied = BookState(last: .zero, bid: .zero, ask: .zero, levels: [], timestamp: 0)
        applied.merge(decoded, receivedAt: 0)
        applied.seq = 41
        #expect(applied == state)
    }

    @Test func busMessagesNeedASeqAndHaveNoBookUnlessTheyCarryOne() {
        #expect(decodeBus(#"{"symbol":"A","last":1,"bid":1,"ask":1}"#).errors == [#"a bus message needs "seq""#])
        #expect(!decodeBus(#"{"symbol":"A","last":1,"bid":1,"ask":1,"seq":0}"#).errors.isEmpty)
        #expect(!decodeBus(#"{"symbol":"A","last":1,"bid":1,"ask":1,"seq":"7"}"#).errors.isEmpty)
        let bookless = decodeBus(#"{"symbol":"A","last":1,"bid":1,"ask":1,"seq":3}"#).updates[0]
        // The whole state: no book means an empty book, not "the previous one".
        #expect(bookless.hasBook && bookless.book.isEmpty && bookless.sequence == 3)
        // A /feed publisher's seq is not read at all (the writer numbers updates).
        var feed = FeedDecoder()
        var sequence: UInt64? = 1
        _ = Array(#"{"symbol":"A","last":1,"bid":1,"ask":1,"seq":"anything"}"#.utf8).withUnsafeBytes {
            feed.decode($0, onUpdate: { sequence = $1.sequence }, onError: { _, _ in })
        }
        #expect(sequence == nil)
    }

    @Test func applyingKeepsTheCarriedSeqDropsStaleOnesAndCountsGaps() throws {
        let service = MarketDataService(maxSubscriptions: 10, maxSymbols: 10)
        let subscriber = RecordingSubscriber()
        let symbol = try #require(service.symbolID(for: "AAPL"))
        service.registry.subscribe(subscriber, to: symbol, variant: .v2(depth: 1))
        func message(_ seq: UInt64) -> FeedUpdate { decodeBus(#"{"symbol":"AAPL","last":1,"bid":1,"ask":1,"seq":\#(seq),"ts":7}"#).updates[0] }
        #expect(service.applyFromBus(message(5), symbol: symbol, receivedAt: 0, now: 0) == .applied(missed: 0))
        #expect(service.applyFromBus(message(6), symbol: symbol, receivedAt: 0, now: 0) == .applied(missed: 0))
        #expect(service.applyFromBus(message(6), symbol: symbol, receivedAt: 0, now: 0) == .stale)
        #expect(service.applyFromBus(message(3), symbol: symbol, receivedAt: 0, now: 0) == .stale)
        #expect(service.applyFromBus(message(10), symbol: symbol, receivedAt: 0, now: 0) == .applied(missed: 3))
        #expect(subscriber.frames.count == 3)
        let last = subscriber.frames[2].1.withBytes { String(decoding: $0.dropFirst(2), as: UTF8.self) }
        #expect(last.contains(#""seq":10,"ts":7"#))
        #expect(service.updatesFromBus == 3)
        // Forgotten (no longer followed): the next message starts afresh, whatever its seq.
        service.forget(symbol)
        #expect(service.snapshot(of: symbol, variant: .v1) == nil)
        #expect(service.applyFromBus(message(2), symbol: symbol, receivedAt: 0, now: 0) == .applied(missed: 0))
    }

    @Test func theRegistryReportsFirstAndLastInterest() {
        let registry = SubscriptionRegistry()
        var changes: [String] = []
        registry.onInterestChange = { changes.append("\($0) \($1)") }
        let a = RecordingSubscriber(), b = RecordingSubscriber()
        registry.subscribe(a, to: 3, variant: .v1)
        registry.subscribe(b, to: 3, variant: .v2(depth: 1))
        registry.unsubscribe(a, from: 3)
        #expect(changes == ["3 true"])
        registry.unsubscribeAll(b)
        #expect(changes == ["3 true", "3 false"])
    }
}

@Suite struct BusMessageOnePassTests {
    func one(_ text: String) -> FeedUpdate? {
        var decoder = FeedDecoder(busMessages: true)
        return Array(text.utf8).withUnsafeBytes { decoder.decodeBusMessage($0) }
    }

    @Test func onlyAWholeValidObjectIsAnUpdate() {
        let valid = #"{"symbol":"A","last":1,"bid":1,"ask":1,"book":[[1,2,3,4]],"seq":3,"ts":9}"#
        #expect(one(valid)?.sequence == 3)
        #expect(one(valid)?.book.count == 1)
        for broken in [String(valid.dropLast()), valid + "x", valid + "{}", "[" + valid + "]",
                       #"{"symbol":"A","last":1.2.3,"bid":1,"ask":1,"seq":3}"#, #"{"symbol":"A","last":1,"bid":1,"ask":1,"seq":3,}"#,
                       #"{"symbol":"A","last":1,"bid":1,"ask":1,"book":[[1,2,3,4],"seq":3}"#, "", "{", "null"] {
            #expect(one(broken) == nil, "\(broken)")
        }
    }
}
