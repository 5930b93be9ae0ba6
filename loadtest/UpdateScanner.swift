/// Pulls the few fields the load test needs out of an update without a JSON parser: the
/// symbol's number (`SYM0123` -> 123), and for v2 the `seq` and `ts` at the end of the message.
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

    /// `(seq, ts)` from a v2 update ending in `,"seq":N,"ts":M}`.
    static func seqAndTimestamp(_ bytes: UnsafeRawBufferPointer) -> (UInt64, Int64)? {
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
