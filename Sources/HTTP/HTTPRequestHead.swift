import ByteBuffers

/// A parsed request line and header fields.
public struct HTTPRequestHead: Sendable, Equatable, HeaderFields {
    public var method: String
    /// The request target as sent, e.g. `/ws?x=1`.
    public var target: String
    /// The target without its query.
    public var path: String
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    public var minorVersion: Int
    /// Fields in order; names lowercased, values trimmed of surrounding whitespace.
    public var headers: [(name: String, value: String)]

    public init(method: String, target: String, minorVersion: Int, headers: [(name: String, value: String)]) {
        self.method = method
        self.target = target
        self.path = String(target.prefix(while: { $0 != "?" }))
        self.minorVersion = minorVersion
        self.headers = headers
    }

    public var fields: [(name: String, value: String)] { headers }

    /// The first `name=value` of the target's query, percent-decoded (`+` as a space); nil
    /// when absent or badly encoded.
    public func queryParameter(_ name: String) -> String? {
        guard let query = target.split(separator: "?", maxSplits: 1).dropFirst().first else { return nil }
        let prefix = name + "="
        for pair in query.split(separator: "&") where pair.hasPrefix(prefix) {
            return Self.percentDecoded(pair.dropFirst(prefix.count))
        }
        return nil
    }

    private static func percentDecoded(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
            bytes.append(high << 4 | low)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// Whether the connection should stay open after the response.
    public var keepAlive: Bool {
        if hasToken("connection", "close") { return false }
        return minorVersion >= 1 || hasToken("connection", "keep-alive")
    }

    public static func == (lhs: HTTPRequestHead, rhs: HTTPRequestHead) -> Bool {
        lhs.method == rhs.method && lhs.target == rhs.target && lhs.minorVersion == rhs.minorVersion
            && lhs.headers.elementsEqual(rhs.headers, by: { $0.name == $1.name && $0.value == $1.value })
    }
}
