import MarketData

/// The market as the old instance leaves it: every symbol's latest state with its `seq`, and
/// the simulator's position. The new instance continues both, so a client sees consecutive
/// `seq` across the deploy.
struct MarketHandover: Equatable {
    var states: [(name: String, state: BookState)]
    var simulator: SimulatedMarket.Position?

    static func == (a: MarketHandover, b: MarketHandover) -> Bool {
        a.simulator == b.simulator && a.states.elementsEqual(b.states) { $0.name == $1.name && $0.state == $1.state }
    }

    func encoded() -> [UInt8] {
        var writer = HandoverWriter()
        writer.u32(UInt32(states.count))
        for (name, state) in states {
            writer.string(name)
            writer.i64(state.last.units)
            writer.i64(state.bid.units)
            writer.i64(state.ask.units)
            writer.u64(state.seq)
            writer.i64(state.timestamp)
            writer.u16(UInt16(state.levels.count))
            for level in state.levels {
                writer.i64(level.bidPrice.units)
                writer.i64(level.bidSize.units)
                writer.i64(level.askPrice.units)
                writer.i64(level.askSize.units)
            }
        }
        writer.optional(simulator) { writer, position in
            writer.u32(UInt32(position.next))
            writer.u64(position.random)
            writer.u32(UInt32(position.mids.count))
            for (name, mid) in position.mids {
                writer.string(name)
                writer.i64(mid)
            }
        }
        return writer.bytes
    }

    init(states: [(name: String, state: BookState)], simulator: SimulatedMarket.Position?) {
        self.states = states
        self.simulator = simulator
    }

    init(decoding bytes: [UInt8]) throws {
        var reader = HandoverReader(bytes)
        let count = Int(try reader.u32("symbol count"))
        states = []
        for _ in 0..<count {
            let name = try reader.string("symbol")
            let last = try reader.i64("last"), bid = try reader.i64("bid"), ask = try reader.i64("ask")
            let seq = try reader.u64("seq"), timestamp = try reader.i64("ts")
            let levelCount = Int(try reader.u16("level count"))
            guard levelCount <= BookState.maxLevels else { throw HandoverFormatError("\(levelCount) book levels") }
            var levels: [BookLevel] = []
            for _ in 0..<levelCount {
                levels.append(BookLevel(bidPrice: FixedPoint(units: try reader.i64("bid price")),
                                        bidSize: FixedPoint(units: try reader.i64("bid size")),
                                        askPrice: FixedPoint(units: try reader.i64("ask price")),
                                        askSize: FixedPoint(units: try reader.i64("ask size"))))
            }
            states.append((name, BookState(last: FixedPoint(units: last), bid: FixedPoint(units: bid), ask: FixedPoint(units: ask),
                                           levels: levels, seq: seq, timestamp: timestamp)))
        }
        simulator = try reader.optional("simulator") { reader in
            let next = Int(try reader.u32("next symbol"))
            let random = try reader.u64("generator")
            let count = Int(try reader.u32("simulated symbols"))
            var mids: [(name: String, midTicks: Int64)] = []
            for _ in 0..<count { mids.append((try reader.string("simulated symbol"), try reader.i64("mid"))) }
            return SimulatedMarket.Position(mids: mids, next: next, random: random)
        }
        try reader.finish()
    }
}
