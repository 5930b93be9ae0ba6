/// The handover's byte format: little-endian integers, length-prefixed bytes and strings.
/// Both processes run on the same host, but not necessarily the same build: the format has a
/// version (`HandoverFormat.version`), and a reader that meets anything it does not expect
/// stops with an error rather than guessing.
enum HandoverFormat {
    /// Raised whenever a field is added, removed or changes meaning. A new instance refuses a
    /// handover in a version it cannot read, and the old one then drains as without handover.
    /// The successor says the newest version it reads when it asks for the listener
    /// (`TAKEOVER <version>`; a bare `TAKEOVER` reads 1), and the running instance writes the
    /// newest both know, so either side may be the older build.
    /// 1: the market (states, seq, simulator position) and the connections' state.
    /// 2: the market's epoch too.
    /// 3: each subscription's rate cap, and delta variants.
    static let version = 3
    /// The versions this build reads.
    static let readable = 1...version
    /// Largest body of one message: a batch with every connection's unsent output. Anything
    /// larger is a broken peer, not a state.
    static let maxBodyBytes = 1 << 30
}

/// Why a handover message could not be read.
struct HandoverFormatError: Error, CustomStringConvertible, Equatable {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Appends fields to a handover message.
struct HandoverWriter {
    private(set) var bytes: [UInt8] = []

    mutating func u8(_ value: UInt8) { bytes.append(value) }
    mutating func bool(_ value: Bool) { bytes.append(value ? 1 : 0) }
    mutating func u16(_ value: UInt16) { integer(value) }
    mutating func u32(_ value: UInt32) { integer(value) }
    mutating func u64(_ value: UInt64) { integer(value) }
    mutating func i64(_ value: Int64) { integer(value) }

    private mutating func integer<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func data(_ value: [UInt8]) {
        u32(UInt32(value.count))
        bytes.append(contentsOf: value)
    }

    mutating func string(_ value: String) { data(Array(value.utf8)) }

    mutating func optional<T>(_ value: T?, _ write: (inout HandoverWriter, T) -> Void) {
        bool(value != nil)
        if let value { write(&self, value) }
    }
}

/// Reads fields of a handover message, checking every length against what is left.
struct HandoverReader {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { offset == bytes.count }

    private mutating func take(_ count: Int, _ what: String) throws -> ArraySlice<UInt8> {
        guard count >= 0, bytes.count - offset >= count else { throw HandoverFormatError("truncated: \(what)") }
        defer { offset += count }
        return bytes[offset..<(offset + count)]
    }

    private mutating func integer<T: FixedWidthInteger>(_ type: T.Type, _ what: String) throws -> T {
        var value = T.zero
        let slice = try take(MemoryLayout<T>.size, what)
        withUnsafeMutableBytes(of: &value) { $0.copyBytes(from: slice) }
        return T(littleEndian: value)
    }

    mutating func u8(_ what: String) throws -> UInt8 { try integer(UInt8.self, what) }
    mutating func u16(_ what: String) throws -> UInt16 { try integer(UInt16.self, what) }
    mutating func u32(_ what: String) throws -> UInt32 { try integer(UInt32.self, what) }
    mutating func u64(_ what: String) throws -> UInt64 { try integer(UInt64.self, what) }
    mutating func i64(_ what: String) throws -> Int64 { try integer(Int64.self, what) }

    mutating func bool(_ what: String) throws -> Bool {
        switch try u8(what) {
        case 0: return false
        case 1: return true
        default: throw HandoverFormatError("not a flag: \(what)")
        }
    }

    mutating func data(_ what: String) throws -> [UInt8] {
        Array(try take(Int(try u32(what)), what))
    }

    mutating func string(_ what: String) throws -> String {
        let raw = try data(what)
        guard let text = String(validating: raw, as: UTF8.self) else { throw HandoverFormatError("not UTF-8: \(what)") }
        return text
    }

    mutating func optional<T>(_ what: String, _ read: (inout HandoverReader) throws -> T) throws -> T? {
        try bool(what) ? try read(&self) : nil
    }

    /// Ends a message: bytes left over mean the writer wrote something this reader does not know.
    func finish() throws {
        guard isAtEnd else { throw HandoverFormatError("\(bytes.count - offset) unexpected bytes at the end") }
    }
}
