import MarketData

/// The market as the old instance leaves it: every symbol's latest state with its `seq`, and
/// the simulator's position. The new instance continues both, so a client sees consecutive
/// `seq` across the deploy.
struct MarketHandover: Equatable {
    var states: [(name: String, state: BookState)]
    var simulator: SimulatedMarket.Position?
    /// The sequence space the states count in (format 2 on); nil from a format-1 sender.
    var epoch: MarketEpoch?

    static func == (a: MarketHandover, b: MarketHandover) -> Bool {
        a.simulator == b.simulator && a.epoch == b.epoch && a.states.elementsEqual(b.states) { $0.name == $1.name && $0.state == $1.state }
    }

    /// The market in format `version` (1 leaves the epoch out).
    func encoded(version: Int = HandoverFormat.version) -> [UInt8] {
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
        if version >= 2 { writer.string(epoch?.value ?? "") }
        return writer.bytes
    }

    init(states: [(name: String, state: BookState)], simulator: SimulatedMarket.Position?, epoch: MarketEpoch? = nil) {
        self.states = states
        self.simulator = simulator
        self.epoch = epoch
    }

    init(decoding bytes: [UInt8], version: Int = HandoverFormat.version) throws {
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
        if version >= 2 {
            let text = try reader.string("epoch")
            guard text.isEmpty || MarketEpoch(text) != nil else { throw HandoverFormatError("epoch \"\(text.prefix(70))\"") }
            epoch = MarketEpoch(text)
        }
        try reader.finish()
    }
}
