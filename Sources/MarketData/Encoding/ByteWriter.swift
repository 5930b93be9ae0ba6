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

    /// A decimal integer.
    public mutating func write(_ value: Int64) {
        if value < 0 { write(byte: UInt8(ascii: "-")) }
        write(value.magnitude)
    }

    public mutating func write(_ value: Int) { write(Int64(value)) }

    /// A decimal unsigned integer.
    public mutating func write(_ value: UInt64) {
        reserve(20)
        var magnitude = value
        var scratch: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes; at most 20 digits, written backwards
        var length = 0
        withUnsafeMutableBytes(of: &scratch) { digits in
            repeat {
                digits[23 - length] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                length += 1
            } while magnitude > 0
            (storage + count).copyMemory(from: digits.baseAddress! + (24 - length), byteCount: length)
        }
        count += length
    }

    /// A fixed-point number as the shortest exact decimal: `189.25`, `300`, `0.0001`, `-2.5`.
    public mutating func write(_ value: FixedPoint) {
        let units = value.units
        let whole = units / FixedPoint.unit
        var fraction = (units % FixedPoint.unit).magnitude
        if units < 0 && whole == 0 { write(byte: UInt8(ascii: "-")) }
        write(whole)
        guard fraction != 0 else { return }
        write(byte: UInt8(ascii: "."))
        var places = FixedPoint.scale
        while fraction % 10 == 0 {
            fraction /= 10
            places -= 1
        }
        reserve(places)
        var divisor: UInt64 = 1
        for _ in 1..<places { divisor *= 10 }
        while divisor > 0 {
            write(byte: UInt8(ascii: "0") + UInt8(fraction / divisor))
            fraction %= divisor
            divisor /= 10
        }
    }
}
