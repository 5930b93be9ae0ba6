import Auth
import Connection
@testable import Gateway
import MarketData
import Testing
import WebSocket

/// The handover's state records: what the old instance writes, the new one reads back whole,
/// and anything cut short or left over is an error, never a guess.
@Suite struct HandoverFormatTests {
    static let market = MarketHandover(
        states: [("AAPL", BookState(last: FixedPoint(189, 25_000_000), bid: FixedPoint(189), ask: FixedPoint(189, 50_000_000),
                                    levels: [BookLevel(bidPrice: FixedPoint(189), bidSize: FixedPoint(300),
                                                       askPrice: FixedPoint(189, 50_000_000), askSize: FixedPoint(-1))],
                                    seq: 41, timestamp: 1_795_000_000_000_000)),
                 ("EQ.X", BookState(last: .zero, bid: .zero, ask: .zero, levels: [], seq: .max, timestamp: -1))],
        simulator: SimulatedMarket.Position(mids: [("AAPL", 18_925), ("MSFT", 41_510)], next: 1, random: 0xDEAD_BEEF),
        epoch: MarketEpoch("00c0ffee00c0ffee"))

    static let sessions = [
        SessionHandover(
            connection: ConnectionHandover(
                subprotocol: "v2", deflate: DeflateParameters(serverNoContextTakeover: true, clientNoContextTakeover: true,
                                                              serverMaxWindowBits: 12, clientMaxWindowBits: 15),
                silentFor: 5, sincePing: .max, rateDebt: 123_456, refusedInARow: 3,
                reader: MessageReader.Progress(fragmentOpcode: .text, compressed: false, fragments: Array("{\"ty".utf8)),
                input: [0x80, 0x85, 1, 2], output: [0x81, 0x02, 0x7B, 0x7D]),
            version: .v2, subscriptions: [.init(symbol: "AAPL", variant: .v2(depth: 5).compressed), .init(symbol: "EQ.X", variant: .v2(depth: 50)),
                                                  .init(symbol: "MSFT", variant: .v2(depth: 10, delta: true).compressed, maxRate: 4)],
            claims: AccessClaims(expiresAt: 1_900_000_000, symbols: SymbolPermissions(["AAPL", "EQ.*"]), subject: "desk-7"),
            conflatingFor: 2_000_000_000),
        SessionHandover(
            connection: ConnectionHandover(subprotocol: nil, deflate: nil, silentFor: 0, sincePing: 0, rateDebt: 0, refusedInARow: 0,
                                           reader: MessageReader.Progress(), input: [], output: []),
            version: .v1, subscriptions: [.init(symbol: "AAPL", variant: .v1)], claims: nil, conflatingFor: nil),
    ]

    @Test func theMarketRoundTrips() throws {
        let bytes = Self.market.encoded()
        #expect(try MarketHandover(decoding: bytes) == Self.market)
        let empty = MarketHandover(states: [], simulator: nil)
        #expect(try MarketHandover(decoding: empty.encoded()) == empty)
    }

    /// Format 1 (an older build on either side) carries no epoch: written without it, read
    /// without it, and neither format reads the other's bytes.
    @Test func formatOneLeavesTheEpochOut() throws {
        let old = Self.market.encoded(version: 1)
        var withoutEpoch = Self.market
        withoutEpoch.epoch = nil
        #expect(try MarketHandover(decoding: old, version: 1) == withoutEpoch)
        #expect(throws: HandoverFormatError.self) { _ = try MarketHandover(decoding: old, version: 2) }
        #expect(throws: HandoverFormatError.self) { _ = try MarketHandover(decoding: Self.market.encoded(version: 2), version: 1) }
        #expect(HandoverFormat.readable == 1...3)
    }

    @Test func aBatchOfSessionsRoundTrips() throws {
        let decoded = try SessionHandover.decodeBatch(SessionHandover.encodeBatch(Self.sessions))
        #expect(decoded == Self.sessions)
        #expect(decoded[0].claims?.allows("EQ.Y") == true && decoded[0].claims?.allows("MSFT") == false)
    }

    /// An older successor (format 2) cannot hold deltas or caps: the subscription moves as its
    /// whole-state variant, uncapped, and a delta variant in format 2 is refused.
    @Test func aFormatTwoSuccessorGetsWholeStatesWithoutCaps() throws {
        let decoded = try SessionHandover.decodeBatch(SessionHandover.encodeBatch(Self.sessions, format: 2), format: 2)
        #expect(decoded[0].subscriptions.map(\.variant) == [.v2(depth: 5).compressed, .v2(depth: 50), .v2(depth: 10).compressed])
        #expect(decoded[0].subscriptions.allSatisfy { $0.maxRate == nil })
        var capped = Self.sessions[0]
        capped.subscriptions = [.init(symbol: "AAPL", variant: .v2(depth: 1), maxRate: 1001)]
        #expect(throws: HandoverFormatError.self) { _ = try SessionHandover.decodeBatch(SessionHandover.encodeBatch([capped])) }
        capped.subscriptions = [.init(symbol: "AAPL", variant: .v2(depth: 1, delta: true))]
        let three = SessionHandover.encodeBatch([capped])
        #expect(throws: HandoverFormatError.self) { _ = try SessionHandover.decodeBatch(three, format: 2) }
    }

    @Test func everyTruncationAndAnyLeftoverIsAnError() {
        for bytes in [Self.market.encoded(), SessionHandover.encodeBatch(Self.sessions)] {
            let isMarket = bytes == Self.market.encoded()
            for length in 0..<bytes.count {
                let cut = Array(bytes[..<length])
                #expect(throws: HandoverFormatError.self, "cut at \(length)") {
                    if isMarket { _ = try MarketHandover(decoding: cut) } else { _ = try SessionHandover.decodeBatch(cut) }
                }
            }
            #expect(throws: HandoverFormatError.self) {
                if isMarket { _ = try MarketHandover(decoding: bytes + [0]) } else { _ = try SessionHandover.decodeBatch(bytes + [0]) }
            }
        }
    }

    /// A v1 session with a v2 variant, a flag that is neither 0 nor 1, an unknown protocol:
    /// refused rather than served wrongly.
    @Test func inconsistentStatesAreRefused() {
        var wrongVariant = Self.sessions[1]
        wrongVariant.subscriptions = [.init(symbol: "AAPL", variant: .v2(depth: 3))]
        #expect(throws: HandoverFormatError.self) { _ = try SessionHandover.decodeBatch(SessionHandover.encodeBatch([wrongVariant])) }
        var bytes = SessionHandover.encodeBatch([Self.sessions[1]])
        bytes[4] = 2  // the subprotocol's presence flag
        #expect(throws: HandoverFormatError.self) { _ = try SessionHandover.decodeBatch(bytes) }
        let encoded = SessionHandover.encodeBatch([Self.sessions[1]])
        let v1 = Array("v1".utf8)
        let at = (0..<(encoded.count - 1)).first { Array(encoded[$0..<($0 + 2)]) == v1 }!
        var unknown = encoded
        unknown[at + 1] = UInt8(ascii: "9")
        #expect(throws: HandoverFormatError.self) { _ = try SessionHandover.decodeBatch(unknown) }
    }
}

/// The simulator continues another instance's walk exactly when the symbols are the same.
@Suite struct SimulatorHandoverTests {
    @Test func aResumedMarketTakesTheSameStepsAsTheOriginal() {
        let symbols: [(id: SymbolID, name: String, price: FixedPoint)] = (0..<5).map { (SymbolID($0), "S\($0)", FixedPoint(100)) }
        var original = SimulatedMarket(symbols: symbols)
        var store = BookStore()
        for _ in 0..<37 { _ = original.step(store: &store, timestamp: 1) }
        var resumed = SimulatedMarket(symbols: symbols, seed: 99)
        resumed.resume(from: original.position)
        var resumedStore = store
        for _ in 0..<20 {
            let a = original.step(store: &store, timestamp: 2)
            let b = resumed.step(store: &resumedStore, timestamp: 2)
            #expect(a.0 == b.0 && a.2 == b.2)
        }
        // Other symbols: the mids of those in common carry over, the round starts afresh.
        var other = SimulatedMarket(symbols: [(SymbolID(9), "S3", FixedPoint(1)), (SymbolID(8), "NEW", FixedPoint(50))])
        other.resume(from: original.position)
        #expect(other.position.mids.map(\.midTicks) == [original.position.mids[3].midTicks, 5000])
        #expect(other.position.next == 0)
    }
}
