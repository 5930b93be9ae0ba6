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

    // 32-bit limits (at most 2 GiB, clamped): every connection holds a parser until it
    // upgrades, in 9 bytes rather than 17.
    private let headerLimit: Int32
    private let bodyLimit: Int32

    /// Limit on the request line plus header fields; past it the answer is 431.
    public var maxHeaderBytes: Int { Int(headerLimit) }
    /// Limit on a Content-Length body the caller will read; past it the answer is 413.
    public var maxBodyBytes: Int { Int(bodyLimit) }

    public init(maxHeaderBytes: Int = 8192, maxBodyBytes: Int = 65536) {
        headerLimit = Int32(clamping: maxHeaderBytes)
        bodyLimit = Int32(clamping: maxBodyBytes)
    }

    public func parse(_ buffer: UnsafeRawBufferPointer) -> Result {
        guard let end = HTTPHeadScanner.findHeadEnd(buffer, limit: maxHeaderBytes) else {
            return buffer.count >= maxHeaderBytes ? .failure(.headerFieldsTooLarge) : .needMore
        }
        guard let lines = HTTPHeadScanner.lines(buffer, end: end), let requestLine = lines.first,
              let (method, target, minor) = Self.parseRequestLine(requestLine),
              let headers = HTTPHeadScanner.fields(lines.dropFirst()) else {
            return .failure(.badRequest)
        }
        guard minor >= 0 else { return .failure(.versionNotSupported) }
        let head = HTTPRequestHead(method: method, target: target, minorVersion: minor, headers: headers)
        if minor >= 1 && head.header("host") == nil { return .failure(.badRequest) }
        if head.header("transfer-encoding") != nil { return .failure(.notImplemented) }
        let lengths = head.tokens("content-length")
        if !lengths.isEmpty {
            guard Set(lengths).count == 1, lengths[0].utf8.allSatisfy(HTTPHeadScanner.isDigit),
                  let length = Int(lengths[0]) else {
                return .failure(.badRequest)
            }
            if length > maxBodyBytes { return .failure(.payloadTooLarge) }
        }
        return .complete(head, consumed: end)
    }

    /// `METHOD SP target SP HTTP/1.x`; the minor version is -1 for a well-formed other version.
    static func parseRequestLine(_ line: UnsafeRawBufferPointer) -> (String, String, Int)? {
        let parts = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, parts[0].allSatisfy(HTTPHeadScanner.isTokenChar),
              let targetFirst = parts[1].first, targetFirst == UInt8(ascii: "/"),
              parts[1].allSatisfy({ $0 > 0x20 && $0 < 0x7F }),
              let minor = HTTPHeadScanner.minorVersion(parts[2]) else { return nil }
        return (String(decoding: parts[0], as: UTF8.self), String(decoding: parts[1], as: UTF8.self), minor)
    }
}
