import ByteBuffers

/// A parsed status line and header fields, as a client receives them.
public struct HTTPResponseHead: Sendable, HeaderFields {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var fields: [(name: String, value: String)] { headers }
}

/// Parses a response head (for the load-test client's handshake).
public enum HTTPResponseParser {
    public enum Result {
        case needMore
        case complete(HTTPResponseHead, consumed: Int)
        case invalid
    }

    public static func parse(_ buffer: UnsafeRawBufferPointer, maxHeaderBytes: Int = 16384) -> Result {
        guard let end = HTTPHeadScanner.findHeadEnd(buffer, limit: maxHeaderBytes) else {
            return buffer.count >= maxHeaderBytes ? .invalid : .needMore
        }
        guard let lines = HTTPHeadScanner.lines(buffer, end: end), let statusLine = lines.first,
              let headers = HTTPHeadScanner.fields(lines.dropFirst()) else { return .invalid }
        let parts = statusLine.split(separator: UInt8(ascii: " "), maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, HTTPHeadScanner.minorVersion(parts[0]) != nil, parts[1].count == 3,
              parts[1].allSatisfy(HTTPHeadScanner.isDigit),
              let status = Int(String(decoding: parts[1], as: UTF8.self)) else { return .invalid }
        return .complete(HTTPResponseHead(status: status, headers: headers), consumed: end)
    }
}
