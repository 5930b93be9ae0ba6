/// Incremental UTF-8 validation (RFC 3629) that can be fed a message in pieces and reports
/// failure at the first byte that can no longer begin or continue a valid sequence, so a
/// connection sending invalid text is failed fast (1007) without waiting for the message end.
public struct UTF8Validator: Sendable {
    /// Continuation bytes still expected for the current sequence.
    @usableFromInline var remaining: UInt8 = 0
    /// Inclusive bounds on the next continuation byte; tighter than 0x80...0xBF right after
    /// the lead bytes that would otherwise allow overlongs, surrogates or values past U+10FFFF.
    @usableFromInline var lower: UInt8 = 0x80
    @usableFromInline var upper: UInt8 = 0xBF

    public init() {}

    /// True when the bytes so far end on a character boundary.
    public var isComplete: Bool { remaining == 0 }

    public mutating func reset() { self = UTF8Validator() }

    /// Whether `bytes` are, whole, valid UTF-8 (a complete message or Close reason).
    public static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var validator = UTF8Validator()
        return validator.validate(bytes) && validator.isComplete
    }

    /// Feeds more bytes; false as soon as they cannot be part of valid UTF-8.
    @inlinable
    public mutating func validate(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let count = bytes.count
        var index = 0
        while index < count {
            if remaining == 0 {
                // ASCII fast path: eight bytes at a time while none has the high bit.
                while index + 8 <= count,
                      base.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                    index += 8
                }
                if index == count { break }
                let byte = base.load(fromByteOffset: index, as: UInt8.self)
                index += 1
                switch byte {
                case 0x00...0x7F: continue
                case 0xC2...0xDF: remaining = 1; lower = 0x80; upper = 0xBF
                case 0xE0: remaining = 2; lower = 0xA0; upper = 0xBF
                case 0xE1...0xEC, 0xEE...0xEF: remaining = 2; lower = 0x80; upper = 0xBF
                case 0xED: remaining = 2; lower = 0x80; upper = 0x9F
                case 0xF0: remaining = 3; lower = 0x90; upper = 0xBF
                case 0xF1...0xF3: remaining = 3; lower = 0x80; upper = 0xBF
                case 0xF4: remaining = 3; lower = 0x80; upper = 0x8F
                default: return false
                }
            } else {
                let byte = base.load(fromByteOffset: index, as: UInt8.self)
                index += 1
                guard byte >= lower && byte <= upper else { return false }
                remaining -= 1
                lower = 0x80
                upper = 0xBF
            }
        }
        return true
    }
}
