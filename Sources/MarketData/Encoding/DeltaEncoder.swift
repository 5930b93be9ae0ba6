/// v2's delta update: what changed from the state with `seq`−1 to the state with `seq`, for a
/// subscriber who holds the former at the same depth.
///
/// `{"symbol":"AAPL","seq":124,"ts":…,"last":189.26,"bids":[[189.21,400]],"asks":[[189.30,0]]}`
/// `last`, `bid` and `ask` appear only when they changed. The book changes are keyed by price,
/// as exchanges' own depth feeds are (a size of 0 removes the level from view): when the quote
/// moves a tick, a book indexed by level would change in every row, while keyed by price it
/// changes in two to four entries. The client keeps each side sorted (bids high to low, asks
/// low to high) and pairs them row by row into the `depth` it asked for.
///
/// A message without `depth` is a delta; with it, a whole state (the first message, and any
/// time the client may not hold `seq`−1, or the book cannot be keyed by price).
public enum DeltaEncoder {
    /// Writes the delta from `base` to `state` over the first `depth` levels, or returns false
    /// (leaving `writer` to be reset) when only a whole state is right: `base` is not the
    /// state just before, or a side is not strictly ordered with positive sizes.
    public static func write(symbol: String, from base: BookState, to state: BookState, depth: Int, into writer: inout ByteWriter) -> Bool {
        guard base.seq &+ 1 == state.seq else { return false }
        writer.write("{\"symbol\":\"")
        writer.write(raw: symbol)
        writer.write("\",\"seq\":")
        writer.write(state.seq)
        writer.write(",\"ts\":")
        writer.write(state.timestamp)
        if state.last != base.last { writer.write(",\"last\":"); writer.write(state.last) }
        if state.bid != base.bid { writer.write(",\"bid\":"); writer.write(state.bid) }
        if state.ask != base.ask { writer.write(",\"ask\":"); writer.write(state.ask) }
        let old = min(depth, base.levels.count), new = min(depth, state.levels.count)
        guard side(bids: true, base.levels, old, state.levels, new, into: &writer),
              side(bids: false, base.levels, old, state.levels, new, into: &writer) else { return false }
        writer.write(byte: UInt8(ascii: "}"))
        return true
    }

    /// One side's changes by price: a merge walk over the two visible ladders, both best first.
    private static func side(bids: Bool, _ before: [BookLevel], _ beforeCount: Int, _ after: [BookLevel], _ afterCount: Int,
                             into writer: inout ByteWriter) -> Bool {
        @inline(__always) func price(_ level: BookLevel) -> Int64 { bids ? -level.bidPrice.units : level.askPrice.units }
        @inline(__always) func size(_ level: BookLevel) -> FixedPoint { bids ? level.bidSize : level.askSize }
        var i = 0, j = 0, written = 0
        var lastBefore = Int64.min, lastAfter = Int64.min
        func entry(_ level: BookLevel, removed: Bool) {
            writer.write(written == 0 ? (bids ? ",\"bids\":[[" : ",\"asks\":[[") : ",[")
            writer.write(bids ? level.bidPrice : level.askPrice)
            writer.write(byte: UInt8(ascii: ","))
            if removed { writer.write(byte: UInt8(ascii: "0")) } else { writer.write(size(level)) }
            writer.write(byte: UInt8(ascii: "]"))
            written += 1
        }
        while i < beforeCount || j < afterCount {
            // "Price" here grows away from the best, whichever the side.
            let p = i < beforeCount ? price(before[i]) : Int64.max
            let q = j < afterCount ? price(after[j]) : Int64.max
            if j < afterCount {
                guard q > lastAfter, size(after[j]).units > 0 else { return false }
            }
            if i < beforeCount {
                guard p > lastBefore else { return false }
            }
            if p == q {
                if size(before[i]) != size(after[j]) { entry(after[j], removed: false) }
                lastBefore = p; lastAfter = q; i += 1; j += 1
            } else if p < q {
                entry(before[i], removed: true)
                lastBefore = p; i += 1
            } else {
                entry(after[j], removed: false)
                lastAfter = q; j += 1
            }
        }
        if written > 0 { writer.write(byte: UInt8(ascii: "]")) }
        return true
    }
}
