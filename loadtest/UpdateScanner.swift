/// Pulls the few fields the load test needs out of an update without a JSON parser: the
/// symbol's number (`SYM0123` -> 123), and for v2 the `seq` and `ts`: at the end of a whole
/// state, right after the symbol in a delta.
/// The gateway's encoders fix the field order, which is what makes this safe and cheap.
enum UpdateScanner {
    private static let symbolPrefix = Array(#"{"symbol":"SYM"#.utf8)

    /// The number in `SYMnnnn`, or nil for anything else (an ack, an error).
    static func symbolNumber(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard bytes.count > symbolPrefix.count + 1 else { return nil }
        for i in 0..<symbolPrefix.count where bytes[i] != symbolPrefix[i] { return nil }
        var value = 0
        var index = symbolPrefix.count
        while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
            value = value * 10 + Int(bytes[index] - 48)
            index += 1
        }
        return index < bytes.count && bytes[index] == UInt8(ascii: "\"") ? value : nil
    }

    private static let deltaSeq = Array(#"","seq":"#.utf8)
    private static let deltaTimestamp = Array(#","ts":"#.utf8)

    /// `(seq, ts)` from a v2 update: a whole state ends in `,"seq":N,"ts":M}`, a delta starts
    /// `{"symbol":"SYMnnnn","seq":N,"ts":M`.
    static func seqAndTimestamp(_ bytes: UnsafeRawBufferPointer) -> (UInt64, Int64)? {
        if let quote = closingQuoteOfSymbol(bytes), matches(deltaSeq, in: bytes, at: quote),
           let (seq, seqEnd) = numberStarting(at: quote + deltaSeq.count, in: bytes),
           matches(deltaTimestamp, in: bytes, at: seqEnd), let (ts, _) = numberStarting(at: seqEnd + deltaTimestamp.count, in: bytes) {
            return (seq, Int64(ts))
        }
        var index = bytes.count - 1
        guard index > 0, bytes[index] == UInt8(ascii: "}") else { return nil }
        index -= 1
        guard let (ts, tsStart) = numberEnding(at: index, in: bytes) else { return nil }
        // Before the number: `,"ts":` (6 bytes); seq's last digit comes just before that.
        index = tsStart - 7
        guard index > 0 else { return nil }
        guard let (seq, _) = numberEnding(at: index, in: bytes) else { return nil }
        return (seq, Int64(ts))
    }

    private static func closingQuoteOfSymbol(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard matches(symbolPrefix, in: bytes, at: 0) else { return nil }
        var index = symbolPrefix.count
        while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 { index += 1 }
        return index < bytes.count ? index : nil
    }

    private static func matches(_ expected: [UInt8], in bytes: UnsafeRawBufferPointer, at index: Int) -> Bool {
        guard index + expected.count <= bytes.count else { return false }
        for i in 0..<expected.count where bytes[index + i] != expected[i] { return false }
        return true
    }

    /// The decimal number whose first digit is at `start`, and the index after it.
    private static func numberStarting(at start: Int, in bytes: UnsafeRawBufferPointer) -> (UInt64, Int)? {
        var end = start
        var value: UInt64 = 0
        while end < bytes.count, bytes[end] >= 48, bytes[end] <= 57 {
            value = value * 10 + UInt64(bytes[end] - 48)
            end += 1
        }
        return end > start ? (value, end) : nil
    }

    /// The decimal number whose last digit is at `end`, and where it starts.
    private static func numberEnding(at end: Int, in bytes: UnsafeRawBufferPointer) -> (UInt64, Int)? {
        var start = end
        while start >= 0, bytes[start] >= 48, bytes[start] <= 57 { start -= 1 }
        start += 1
        guard start <= end else { return nil }
        var value: UInt64 = 0
        for i in start...end { value = value * 10 + UInt64(bytes[i] - 48) }
        return (value, start)
    }
}
