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
