/// An append-only byte buffer with integer and fixed-point formatting: how the encoders write
/// JSON without Foundation or floating point. Reused across messages: `reset()` keeps its
/// memory, so steady-state encoding allocates nothing here.
public struct ByteWriter: ~Copyable {
    private var storage: UnsafeMutableRawPointer
    private var capacity: Int
    public private(set) var count = 0

    public init(capacity: Int = 4096) {
        self.capacity = max(capacity, 64)
        storage = .allocate(byteCount: self.capacity, alignment: 16)
    }

    deinit { storage.deallocate() }

    public mutating func reset() { count = 0 }

    /// The bytes written so far; valid until the next write or reset.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: storage, count: count) }

    public var string: String { String(decoding: bytes, as: UTF8.self) }

    @inline(__always)
    private mutating func reserve(_ extra: Int) {
        if count + extra > capacity {
            let grown = UnsafeMutableRawPointer.allocate(byteCount: max(capacity * 2, count + extra), alignment: 16)
            grown.copyMemory(from: storage, byteCount: count)
            storage.deallocate()
            storage = grown
            capacity = max(capacity * 2, count + extra)
        }
    }

    @inline(__always)
    public mutating func write(byte: UInt8) {
        reserve(1)
        storage.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
        count += 1
    }

    /// ASCII text known at compile time, such as JSON keys and punctuation.
    @inline(__always)
    public mutating func write(_ text: StaticString) {
        let length = text.utf8CodeUnitCount
        reserve(length)
        (storage + count).copyMemory(from: text.utf8Start, byteCount: length)
        count += length
    }

    public mutating func write(bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        reserve(bytes.count)
        (storage + count).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        count += bytes.count
    }

    /// A string's UTF-8, escaped for a JSON string body (quotes not included).
    public mutating func writeEscaped(_ text: String) {
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): write("\\\"")
            case UInt8(ascii: "\\"): write("\\\\")
            case UInt8(ascii: "\n"): write("\\n")
            case UInt8(ascii: "\r"): write("\\r")
            case UInt8(ascii: "\t"): write("\\t")
            case 0..<0x20:
                write("\\u00")
                let hex: StaticString = "0123456789abcdef"
                write(byte: hex.utf8Start[Int(byte >> 4)])
                write(byte: hex.utf8Start[Int(byte & 0xF)])
            default: write(byte: byte)
            }
        }
    }

    /// A string's UTF-8 as is (callers pass already-valid symbol text).
    public mutating func write(raw text: String) {
        var text = text
        text.withUTF8 { write(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// "00" ... "99": two digits per division when formatting integers.
    private static let digitPairs: StaticString =
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"

    @inline(__always)
    private static func digitCount(_ value: UInt64) -> Int {
        var count = 1
        var threshold: UInt64 = 10
        while value >= threshold {
            count += 1
            if count == 20 { break }
            threshold &*= 10
        }
        return count
    }

    /// Writes `value` as exactly `width` digits ending at `end` (zero-padded), backwards.
    @inline(__always)
    private static func writeDigits(_ value: UInt64, width: Int, endingAt end: UnsafeMutableRawPointer) {
        let pairs = digitPairs.utf8Start
        var remaining = value
        var position = end
        var left = width
        while left >= 2 {
            let pair = Int(remaining % 100) &* 2
            remaining /= 100
            position -= 2
            position.storeBytes(of: pairs[pair], as: UInt8.self)
            (position + 1).storeBytes(of: pairs[pair + 1], as: UInt8.self)
            left -= 2
        }
        if left == 1 {
            position -= 1
            position.storeBytes(of: UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: remaining % 10), as: UInt8.self)
        }
    }

    /// A decimal integer.
    public mutating func write(_ value: Int64) {
        if value < 0 { write(byte: UInt8(ascii: "-")) }
        write(value.magnitude)
    }

    public mutating func write(_ value: Int) { write(Int64(value)) }

    /// A decimal unsigned integer.
    public mutating func write(_ value: UInt64) {
        let digits = Self.digitCount(value)
        reserve(digits)
        Self.writeDigits(value, width: digits, endingAt: storage + count + digits)
        count += digits
    }

    /// A fixed-point number as the shortest exact decimal: `189.25`, `300`, `0.0001`, `-2.5`.
    public mutating func write(_ value: FixedPoint) {
        reserve(32)
        if value.units < 0 { write(byte: UInt8(ascii: "-")) }
        let magnitude = value.units.magnitude
        let unit = UInt64(FixedPoint.unit)
        write(magnitude / unit)
        let fraction = magnitude % unit
        guard fraction != 0 else { return }
        storage.storeBytes(of: UInt8(ascii: "."), toByteOffset: count, as: UInt8.self)
        // All eight places, then drop the trailing zeros: "25000000" -> "25".
        Self.writeDigits(fraction, width: FixedPoint.scale, endingAt: storage + count + 1 + FixedPoint.scale)
        count += 1 + FixedPoint.scale
        while storage.load(fromByteOffset: count - 1, as: UInt8.self) == UInt8(ascii: "0") { count -= 1 }
    }
}
