/// Splits an HTTP message head into its lines and parses header fields: shared by the request
/// parser (server side) and the response parser (the load-test client).
enum HTTPHeadScanner {
    /// Offset just past the CRLFCRLF that ends the head, searched within `limit` bytes.
    static func findHeadEnd(_ buffer: UnsafeRawBufferPointer, limit: Int) -> Int? {
        let count = min(buffer.count, limit)
        guard count >= 4 else { return nil }
        var index = 3
        while index < count {
            if buffer[index] == UInt8(ascii: "\n") && buffer[index - 1] == UInt8(ascii: "\r")
                && buffer[index - 2] == UInt8(ascii: "\n") && buffer[index - 3] == UInt8(ascii: "\r") {
                return index + 1
            }
            index += 1
        }
        return nil
    }

    /// The head's lines without their CRLF and without the final empty line; nil when a line
    /// ends in a bare LF or holds a NUL.
    static func lines(_ buffer: UnsafeRawBufferPointer, end: Int) -> [UnsafeRawBufferPointer]? {
        var lines = [UnsafeRawBufferPointer]()
        var lineStart = 0
        var index = 0
        while index + 1 < end {
            if buffer[index] == UInt8(ascii: "\r") {
                guard buffer[index + 1] == UInt8(ascii: "\n") else { return nil }
                lines.append(UnsafeRawBufferPointer(rebasing: buffer[lineStart..<index]))
                index += 2
                lineStart = index
            } else if buffer[index] == UInt8(ascii: "\n") || buffer[index] == 0 {
                return nil
            } else {
                index += 1
            }
        }
        return lines.dropLast().map { $0 }
    }

    /// Header fields from the lines after the start line; nil when one is malformed.
    static func fields(_ lines: ArraySlice<UnsafeRawBufferPointer>) -> [(name: String, value: String)]? {
        var fields = [(name: String, value: String)]()
        for line in lines {
            guard let field = parseField(line) else { return nil }
            fields.append(field)
        }
        return fields
    }

    /// `name: value` with a token name, no whitespace before the colon, and no line folding.
    static func parseField(_ line: UnsafeRawBufferPointer) -> (name: String, value: String)? {
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > 0 else { return nil }
        let name = line[line.startIndex..<colon]
        guard name.allSatisfy(isTokenChar) else { return nil }
        let value = line[(colon + 1)...]
        guard value.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else { return nil }
        return (String(decoding: name, as: UTF8.self).lowercased(),
                String(decoding: value, as: UTF8.self).trimmingOptionalWhitespace())
    }

    static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

    /// RFC 9110 `tchar`.
    static func isTokenChar(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(c)
        }
    }

    /// `HTTP/1.x` → x, -1 for another well-formed version, nil for anything else.
    static func minorVersion(_ bytes: some Collection<UInt8>) -> Int? {
        let version = Array(bytes)
        guard version.count == 8, Array(version[0..<5]) == Array("HTTP/".utf8), version[6] == UInt8(ascii: "."),
              isDigit(version[5]), isDigit(version[7]) else { return nil }
        if version[5] != UInt8(ascii: "1") || version[7] > UInt8(ascii: "1") { return -1 }
        return Int(version[7] - UInt8(ascii: "0"))
    }
}
