#if canImport(Glibc)
import Glibc
#endif

/// A strict pull reader over JSON bytes (RFC 8259). It validates as it goes and hands out
/// byte ranges instead of building a tree, so reading a message's few known fields allocates
/// nothing. Unknown fields are skipped (and still validated).
public struct JSONReader {
    public struct Failure: Error, Equatable, Sendable {
        public let message: String
        public init(_ message: String) { self.message = message }
    }

    public let bytes: UnsafeRawBufferPointer
    public private(set) var index = 0
    /// Nesting bound, so hostile input cannot exhaust the stack.
    private static let maxDepth = 32

    public init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    // MARK: Structure

    /// Calls `body` with each key's raw bytes; `body` must read or skip the value.
    public mutating func readObject(_ body: (inout JSONReader, UnsafeRawBufferPointer) throws -> Void) throws {
        try readSequence(open: UInt8(ascii: "{"), close: UInt8(ascii: "}")) { reader, _ in
            let key = try reader.readStringBytes()
            reader.skipWhitespace()
            try reader.expect(UInt8(ascii: ":"))
            reader.skipWhitespace()
            try body(&reader, key)
        }
    }

    /// Calls `body` for each element (with its position); `body` must read or skip it.
    public mutating func readArray(_ body: (inout JSONReader, Int) throws -> Void) throws {
        try readSequence(open: UInt8(ascii: "["), close: UInt8(ascii: "]"), body)
    }

    /// `open`, then comma-separated elements read by `element` (given their position), then
    /// `close`: what objects and arrays share.
    private mutating func readSequence(open: UInt8, close: UInt8,
                                       _ element: (inout JSONReader, Int) throws -> Void) throws {
        try expect(open)
        skipWhitespace()
        if peek() == close {
            index += 1
            return
        }
        var position = 0
        while true {
            skipWhitespace()
            try element(&self, position)
            position += 1
            skipWhitespace()
            if peek() == UInt8(ascii: ",") {
                index += 1
                continue
            }
            try expect(close)
            return
        }
    }

    /// Checks that nothing but whitespace follows the value just read.
    public mutating func finish() throws {
        skipWhitespace()
        guard index == bytes.count else { throw Failure("unexpected bytes after the JSON value") }
    }

    /// Moves back to an earlier position (from `index`), e.g. to skip a value whose reading
    /// failed half-way in a document already known to be well-formed.
    public mutating func rewind(to position: Int) {
        precondition(position <= index)
        index = position
    }

    /// The first non-whitespace byte ahead, without consuming it.
    public mutating func peekValueStart() -> UInt8? {
        skipWhitespace()
        return peek()
    }

    // MARK: Values

    /// A string without escapes, as its raw bytes (symbols, message types). A string with
    /// escapes is refused: no valid value of those fields needs one.
    public mutating func readStringBytes() throws -> UnsafeRawBufferPointer {
        try expect(UInt8(ascii: "\""))
        let start = index
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return UnsafeRawBufferPointer(rebasing: bytes[start..<(index - 1)])
            }
            if byte == UInt8(ascii: "\\") { throw Failure("escapes are not allowed in this string") }
            if byte < 0x20 { throw Failure("control character in a string") }
            index += 1
        }
        throw Failure("unterminated string")
    }

    /// A number's raw bytes, checked against the JSON number grammar.
    public mutating func readNumberBytes() throws -> UnsafeRawBufferPointer {
        let start = index
        if peek() == UInt8(ascii: "-") { index += 1 }
        guard let first = peek(), isDigit(first) else { throw Failure("expected a number") }
        index += 1
        if first != UInt8(ascii: "0") { while let d = peek(), isDigit(d) { index += 1 } }
        if peek() == UInt8(ascii: ".") {
            index += 1
            guard let d = peek(), isDigit(d) else { throw Failure("expected digits after the decimal point") }
            while let d = peek(), isDigit(d) { index += 1 }
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            index += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { index += 1 }
            guard let d = peek(), isDigit(d) else { throw Failure("expected exponent digits") }
            while let d = peek(), isDigit(d) { index += 1 }
        }
        return UnsafeRawBufferPointer(rebasing: bytes[start..<index])
    }

    /// An integer within `range`.
    public mutating func readInteger(in range: ClosedRange<Int64>) throws -> Int64 {
        let raw = try readNumberBytes()
        // As JSON Schema's "integer": any number whose value is whole, so 2, 2.0 and 20e-1 are
        // all 2 (the contract's schemas and the server must agree on what they accept).
        var digits: [UInt8] = []
        var negative = false
        var fractionDigits = 0
        var exponent = 0
        var index = 0
        if raw.first == UInt8(ascii: "-") {
            negative = true
            index = 1
        }
        var inFraction = false
        while index < raw.count {
            let byte = raw[index]
            if isDigit(byte) {
                digits.append(byte - UInt8(ascii: "0"))
                if inFraction { fractionDigits += 1 }
            } else if byte == UInt8(ascii: ".") {
                inFraction = true
            } else {  // e or E, then an optional sign and digits (the grammar was checked)
                var sign = 1
                index += 1
                if raw[index] == UInt8(ascii: "-") || raw[index] == UInt8(ascii: "+") {
                    if raw[index] == UInt8(ascii: "-") { sign = -1 }
                    index += 1
                }
                var magnitude = 0
                while index < raw.count {
                    magnitude = min(magnitude * 10 + Int(raw[index] - UInt8(ascii: "0")), 10_000)
                    index += 1
                }
                exponent = sign * magnitude
                break
            }
            index += 1
        }
        var scale = exponent - fractionDigits
        while scale < 0 {
            // Dropping a digit must drop only a zero, or the value is not whole.
            guard let last = digits.popLast() else { break }
            guard last == 0 else { throw Failure("expected an integer") }
            scale += 1
        }
        var value: Int64 = 0
        for digit in digits + Array(repeating: 0, count: max(0, scale)) {
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int64(digit))
            guard !o1 && !o2 else { throw Failure("integer out of range") }
            value = sum
        }
        if negative { value = -value }
        guard range.contains(value) else { throw Failure("integer out of range") }
        return value
    }

    /// `true` or `false`.
    public mutating func readBool() throws -> Bool {
        skipWhitespace()
        if peek() == UInt8(ascii: "t") {
            try expectLiteral("true")
            return true
        }
        guard peek() == UInt8(ascii: "f") else { throw Failure("expected true or false") }
        try expectLiteral("false")
        return false
    }

    /// Skips any value, validating it.
    public mutating func skipValue() throws { try skipValue(depth: 0) }

    private mutating func skipValue(depth: Int) throws {
        guard depth < Self.maxDepth else { throw Failure("nested too deeply") }
        skipWhitespace()
        guard let byte = peek() else { throw Failure("unexpected end of JSON") }
        switch byte {
        case UInt8(ascii: "{"):
            try readObject { reader, _ in try reader.skipValue(depth: depth + 1) }
        case UInt8(ascii: "["):
            try readArray { reader, _ in try reader.skipValue(depth: depth + 1) }
        case UInt8(ascii: "\""):
            try skipString()
        case UInt8(ascii: "t"): try expectLiteral("true")
        case UInt8(ascii: "f"): try expectLiteral("false")
        case UInt8(ascii: "n"): try expectLiteral("null")
        default:
            _ = try readNumberBytes()
        }
    }

    /// Skips a string that may hold escapes, checking them.
    private mutating func skipString() throws {
        try expect(UInt8(ascii: "\""))
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            if byte == UInt8(ascii: "\"") { return }
            if byte < 0x20 { throw Failure("control character in a string") }
            if byte == UInt8(ascii: "\\") {
                guard let escaped = peek() else { break }
                index += 1
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                     UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    continue
                case UInt8(ascii: "u"):
                    for _ in 0..<4 {
                        guard let h = peek(), isHex(h) else { throw Failure("bad \\u escape") }
                        index += 1
                    }
                default:
                    throw Failure("bad escape")
                }
            }
        }
        throw Failure("unterminated string")
    }

    // MARK: Bytes

    private func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func expect(_ byte: UInt8) throws {
        guard peek() == byte else {
            throw Failure(index < bytes.count ? "expected '\(Character(Unicode.Scalar(byte)))'" : "unexpected end of JSON")
        }
        index += 1
    }

    private mutating func expectLiteral(_ literal: StaticString) throws {
        let length = literal.utf8CodeUnitCount
        guard index + length <= bytes.count,
              memcmp(bytes.baseAddress! + index, literal.utf8Start, length) == 0 else {
            throw Failure("invalid literal")
        }
        index += length
    }

    private mutating func skipWhitespace() {
        while let byte = peek(), byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { index += 1 }
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private func isHex(_ byte: UInt8) -> Bool {
        isDigit(byte) || (byte | 0x20 >= UInt8(ascii: "a") && byte | 0x20 <= UInt8(ascii: "f"))
    }
}

/// Compares raw bytes with ASCII text known at compile time.
@inline(__always)
public func bytesEqual(_ bytes: UnsafeRawBufferPointer, _ text: StaticString) -> Bool {
    bytes.count == text.utf8CodeUnitCount && (bytes.count == 0 || memcmp(bytes.baseAddress!, text.utf8Start, bytes.count) == 0)
}
