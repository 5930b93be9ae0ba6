/// A strict parser for an HTTP/1.1 request head (RFC 9112), for the WebSocket handshake and
/// the small GET/POST endpoints. Pure: it reads a buffer and answers.
///
/// Strict on purpose: anything ambiguous (obsolete line folding, whitespace before a colon,
/// bare LF, a body framed by Transfer-Encoding) is refused rather than guessed at.
public struct HTTPRequestParser: Sendable {
    public enum Result: Equatable {
        /// The head is not complete yet.
        case needMore
        /// A head, and the number of bytes it used (through the blank line).
        case complete(HTTPRequestHead, consumed: Int)
        /// The request cannot be served; answer with this status and close.
        case failure(HTTPStatus)
    }

    /// Limit on the request line plus header fields; past it the answer is 431.
    public var maxHeaderBytes: Int
    /// Limit on a Content-Length body the caller will read; past it the answer is 413.
    public var maxBodyBytes: Int

    public init(maxHeaderBytes: Int = 8192, maxBodyBytes: Int = 65536) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxBodyBytes = maxBodyBytes
    }

    public func parse(_ buffer: UnsafeRawBufferPointer) -> Result {
        guard let end = Self.findHeadEnd(buffer, limit: maxHeaderBytes) else {
            return buffer.count >= maxHeaderBytes ? .failure(.headerFieldsTooLarge) : .needMore
        }
        var lines = [UnsafeRawBufferPointer]()
        var lineStart = 0
        var index = 0
        while index + 1 < end {
            if buffer[index] == UInt8(ascii: "\r") {
                guard buffer[index + 1] == UInt8(ascii: "\n") else { return .failure(.badRequest) }
                lines.append(UnsafeRawBufferPointer(rebasing: buffer[lineStart..<index]))
                index += 2
                lineStart = index
            } else if buffer[index] == UInt8(ascii: "\n") || buffer[index] == 0 {
                return .failure(.badRequest)
            } else {
                index += 1
            }
        }
        guard let requestLine = lines.first else { return .failure(.badRequest) }
        guard let (method, target, minor) = Self.parseRequestLine(requestLine) else {
            return .failure(.badRequest)
        }
        guard minor >= 0 else { return .failure(.versionNotSupported) }
        var headers = [(name: String, value: String)]()
        // The last line is the empty one that ends the head.
        for line in lines.dropFirst().dropLast() {
            guard let field = Self.parseField(line) else { return .failure(.badRequest) }
            headers.append(field)
        }
        let head = HTTPRequestHead(method: method, target: target, minorVersion: minor, headers: headers)
        if minor >= 1 && head.header("host") == nil { return .failure(.badRequest) }
        if head.header("transfer-encoding") != nil { return .failure(.notImplemented) }
        let lengths = head.tokens("content-length")
        if !lengths.isEmpty {
            guard Set(lengths).count == 1, let length = Int(lengths[0]), length >= 0,
                  lengths[0].utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
                return .failure(.badRequest)
            }
            if length > maxBodyBytes { return .failure(.payloadTooLarge) }
        }
        return .complete(head, consumed: end)
    }

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

    /// `METHOD SP target SP HTTP/1.x`; the minor version is -1 for a well-formed other version.
    static func parseRequestLine(_ line: UnsafeRawBufferPointer) -> (String, String, Int)? {
        let parts = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, parts[0].allSatisfy(isTokenChar),
              let targetFirst = parts[1].first, targetFirst == UInt8(ascii: "/"),
              parts[1].allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
        let version = Array(parts[2])
        let prefix = Array("HTTP/".utf8)
        guard version.count == 8, Array(version[0..<5]) == prefix, version[6] == UInt8(ascii: "."),
              isDigit(version[5]), isDigit(version[7]) else { return nil }
        let method = String(decoding: parts[0], as: UTF8.self)
        let target = String(decoding: parts[1], as: UTF8.self)
        if version[5] != UInt8(ascii: "1") || version[7] > UInt8(ascii: "1") { return (method, target, -1) }
        return (method, target, Int(version[7] - UInt8(ascii: "0")))
    }

    /// `name: value` with a token name, no whitespace before the colon, and no line folding.
    static func parseField(_ line: UnsafeRawBufferPointer) -> (name: String, value: String)? {
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > 0 else { return nil }
        let name = line[line.startIndex..<colon]
        guard name.allSatisfy(isTokenChar) else { return nil }
        let value = line[(colon + 1)...]
        guard value.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else { return nil }
        return (String(decoding: name, as: UTF8.self).lowercased(),
                String(decoding: value, as: UTF8.self).trimmingSpaces())
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
}
