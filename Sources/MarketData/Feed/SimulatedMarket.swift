/// The embedded feed: a random walk per symbol with a 50-level book that changes a few levels
/// per update, stepped round-robin over the symbols. Pure: the caller decides when to step (the gateway paces it on its loop).
public struct SimulatedMarket {
    struct Instrument {
        let id: SymbolID
        let name: String
        /// Mid price in ticks.
        var midTicks: Int64
        let tick: FixedPoint
    }

    private var instruments: [Instrument] = []
    private var next = 0
    private var random: SplitMix64

    /// A well-known list with plausible prices, the default when no symbols are given.
    public static let defaultSymbols: [(String, FixedPoint)] = [
        ("AAPL", FixedPoint(189, 25_000_000)), ("MSFT", FixedPoint(415, 10_000_000)), ("GOOGL", FixedPoint(172, 50_000_000)),
        ("AMZN", FixedPoint(185, 60_000_000)), ("NVDA", FixedPoint(122, 40_000_000)), ("META", FixedPoint(505, 30_000_000)),
        ("TSLA", FixedPoint(245, 80_000_000)), ("BRK.B", FixedPoint(440, 0)), ("JPM", FixedPoint(210, 15_000_000)),
        ("V", FixedPoint(275, 40_000_000)), ("JNJ", FixedPoint(158, 70_000_000)), ("WMT", FixedPoint(82, 30_000_000)),
        ("XOM", FixedPoint(118, 20_000_000)), ("MA", FixedPoint(470, 50_000_000)), ("PG", FixedPoint(168, 90_000_000)),
        ("UNH", FixedPoint(520, 0)), ("HD", FixedPoint(390, 25_000_000)), ("CVX", FixedPoint(158, 40_000_000)),
        ("KO", FixedPoint(69, 10_000_000)), ("PEP", FixedPoint(172, 30_000_000)), ("COST", FixedPoint(880, 0)),
        ("ADBE", FixedPoint(560, 70_000_000)), ("NFLX", FixedPoint(690, 20_000_000)), ("AMD", FixedPoint(158, 60_000_000)),
        ("INTC", FixedPoint(22, 40_000_000)), ("CSCO", FixedPoint(52, 80_000_000)), ("ORCL", FixedPoint(168, 10_000_000)),
        ("CRM", FixedPoint(290, 50_000_000)), ("DIS", FixedPoint(98, 70_000_000)), ("BA", FixedPoint(165, 30_000_000)),
    ]

    /// Generated names: SYM0000 ... SYM(n-1), zero-padded to four digits.
    public static func generatedSymbols(count: Int) -> [String] {
        (0..<count).map { i in
            var digits = String(i)
            while digits.count < 4 { digits = "0" + digits }
            return "SYM" + digits
        }
    }

    /// A plausible starting price: the built-in one for a well-known ticker, else one derived
    /// from the symbol's position (deterministic, between 20 and 500).
    public static func startingPrice(for name: String, index: Int) -> FixedPoint {
        defaultSymbols.first(where: { $0.0 == name })?.1 ?? FixedPoint(Int64(20 + (index * 37) % 480), 0)
    }

    /// `symbols` pairs each registered id with a starting price.
    public init(symbols: [(id: SymbolID, name: String, price: FixedPoint)], seed: UInt64 = 0x5EED) {
        random = SplitMix64(seed: seed)
        let tick = FixedPoint(units: FixedPoint.unit / 100)  // one cent
        instruments = symbols.map { Instrument(id: $0.id, name: $0.name, midTicks: max(100, $0.price.units / tick.units), tick: tick) }
    }

    public var symbolCount: Int { instruments.count }

    /// Where the walk is, for another process to continue it (a live handover): each symbol's
    /// mid, the next symbol to step, and the generator.
    public struct Position: Sendable, Equatable {
        public var mids: [(name: String, midTicks: Int64)]
        public var next: Int
        public var random: UInt64

        public init(mids: [(name: String, midTicks: Int64)], next: Int, random: UInt64) {
            self.mids = mids
            self.next = next
            self.random = random
        }

        public static func == (a: Position, b: Position) -> Bool {
            a.next == b.next && a.random == b.random && a.mids.elementsEqual(b.mids) { $0.name == $1.name && $0.midTicks == $1.midTicks }
        }
    }

    public var position: Position {
        Position(mids: instruments.map { ($0.name, $0.midTicks) }, next: next, random: random.state)
    }

    /// Continues from another market's position: symbols both have take their mid from it;
    /// the round-robin and the generator continue where it was when the symbol lists are the
    /// same (a deploy that changed them starts the round afresh).
    public mutating func resume(from position: Position) {
        let mids = Dictionary(position.mids.map { ($0.name, $0.midTicks) }, uniquingKeysWith: { a, _ in a })
        for i in instruments.indices { if let mid = mids[instruments[i].name] { instruments[i].midTicks = max(100, mid) } }
        if position.mids.map(\.name) == instruments.map(\.name) {
            next = (0..<instruments.count).contains(position.next) ? position.next : 0
            random = SplitMix64(seed: position.random)
        }
    }

    /// Moves the next symbol (round-robin) one step and writes its new state into `store`.
    /// Returns the symbol, its name and the new state.
    ///
    /// The book changes the way real ones mostly do: an update is a few resting orders added or
    /// taken (one to three levels' sizes change, the top five levels four times as often as
    /// the rest), with a trade one time in four; one update in ten moves the quote by a tick,
    /// which shifts the ladder by one level (`shiftLadder`). So consecutive states of a symbol
    /// differ in a few prices' sizes, as the feeds a delta encoding is judged on do.
    public mutating func step(store: inout BookStore, timestamp: Int64) -> (SymbolID, String, BookState) {
        let i = next
        next = next + 1 == instruments.count ? 0 : next + 1
        let roll = random.next()
        let quoteMoves = roll % 10 == 0
        if quoteMoves { instruments[i].midTicks = max(100, instruments[i].midTicks + ((roll >> 4) & 1 == 1 ? 1 : -1)) }
        let instrument = instruments[i]
        let tick = instrument.tick.units
        let bid = (instrument.midTicks - 1) * tick
        let ask = (instrument.midTicks + 1) * tick
        var bits = roll >> 8
        let state = store.update(instrument.id) { state in
            state.timestamp = timestamp
            if state.levels.count != BookState.maxLevels {
                state.bid = FixedPoint(units: bid)
                state.ask = FixedPoint(units: ask)
                if state.last == .zero { state.last = state.bid }
                state.levels = (0..<BookState.maxLevels).map { level in
                    // Sizes in round lots of 100, 100...1,600, from bits of the same roll.
                    let bidLots = Int64(1 + bits & 0xF), askLots = Int64(1 + (bits >> 4) & 0xF)
                    bits = bits >> 3 | bits << 61
                    return BookLevel(bidPrice: FixedPoint(units: bid - Int64(level) * tick), bidSize: FixedPoint(bidLots * 100),
                                     askPrice: FixedPoint(units: ask + Int64(level) * tick), askSize: FixedPoint(askLots * 100))
                }
            } else if quoteMoves {
                Self.shiftLadder(&state, up: state.bid.units < bid, bid: bid, ask: ask, tick: tick,
                                 freshLots: (FixedPoint(Int64(1 + bits & 0xF) * 100), FixedPoint(Int64(1 + (bits >> 4) & 0xF) * 100)))
            } else {
                for _ in 0...(bits % 3) {
                    bits = bits >> 2 | bits << 62
                    let level = Int(bits % 5 == 0 ? (bits >> 3) % UInt64(BookState.maxLevels) : (bits >> 3) % 5)
                    let lots = FixedPoint(Int64(1 + (bits >> 9) & 0xF) * 100)
                    if (bits >> 13) & 1 == 0 { state.levels[level].bidSize = lots } else { state.levels[level].askSize = lots }
                    bits = bits >> 14 | bits << 50
                }
            }
            if (roll >> 60) & 3 == 0 { state.last = (roll >> 62) & 1 == 1 ? state.ask : state.bid }
        }
        return (instrument.id, instrument.name, state)
    }

    /// The quote moved a tick: on the side it moved towards, the best level is taken and the
    /// rest move one place up; on the other, a new best level appears and the rest move one
    /// place down. Prices at every place change, sizes stay with their prices, and a fresh
    /// level fills the far end, as in a real book.
    private static func shiftLadder(_ state: inout BookState, up: Bool, bid: Int64, ask: Int64, tick: Int64,
                                    freshLots: (bid: FixedPoint, ask: FixedPoint)) {
        let last = BookState.maxLevels - 1
        if up {
            for i in stride(from: last, to: 0, by: -1) { state.levels[i].bidSize = state.levels[i - 1].bidSize }
            state.levels[0].bidSize = freshLots.bid
            for i in 0..<last { state.levels[i].askSize = state.levels[i + 1].askSize }
            state.levels[last].askSize = freshLots.ask
        } else {
            for i in 0..<last { state.levels[i].bidSize = state.levels[i + 1].bidSize }
            state.levels[last].bidSize = freshLots.bid
            for i in stride(from: last, to: 0, by: -1) { state.levels[i].askSize = state.levels[i - 1].askSize }
            state.levels[0].askSize = freshLots.ask
        }
        state.bid = FixedPoint(units: bid)
        state.ask = FixedPoint(units: ask)
        for i in 0...last {
            state.levels[i].bidPrice = FixedPoint(units: bid - Int64(i) * tick)
            state.levels[i].askPrice = FixedPoint(units: ask + Int64(i) * tick)
        }
    }
}

/// A small, fast, deterministic generator (SplitMix64): the simulator needs variety, not
/// cryptographic quality, and a seed makes tests repeatable.
public struct SplitMix64 {
    /// The whole generator: a copy continues the same sequence.
    public private(set) var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
