import ByteBuffers

/// The client side of the NATS text protocol, written into a byte array the caller reuses.
public enum NATSCommands {
    /// `CONNECT {json}`. Follow it with a PING: the server's PONG (or -ERR) says whether it was
    /// accepted, and that everything sent before the PING was processed.
    public static func connect(_ options: NATSConnectOptions, to out: inout [UInt8]) {
        var json = "{\"verbose\":false,\"pedantic\":false,\"tls_required\":\(options.tlsRequired),\"lang\":\"swift\",\"version\":\"tickstream\""
        json += ",\"protocol\":1,\"headers\":true,\"no_responders\":true,\"echo\":true"
        json += ",\"name\":\(quoted(options.name))"
        if let token = options.token { json += ",\"auth_token\":\(quoted(token))" }
        if let user = options.user { json += ",\"user\":\(quoted(user))" }
        if let password = options.password { json += ",\"pass\":\(quoted(password))" }
        if let signature = options.signature {
            if let jwt = signature.jwt { json += ",\"jwt\":\(quoted(jwt))" }
            if let nkey = signature.nkey { json += ",\"nkey\":\(quoted(nkey))" }
            json += ",\"sig\":\(quoted(signature.signature))"
        }
        json += "}"
        append("CONNECT ", to: &out)
        append(json, to: &out)
        append("\r\n", to: &out)
    }

    /// `SUB <subject> <sid>`.
    public static func subscribe(_ subject: String, sid: UInt64, to out: inout [UInt8]) {
        append("SUB ", to: &out)
        append(subject, to: &out)
        out.append(UInt8(ascii: " "))
        appendNumber(sid, to: &out)
        append("\r\n", to: &out)
    }

    /// `UNSUB <sid>`.
    public static func unsubscribe(sid: UInt64, to out: inout [UInt8]) {
        append("UNSUB ", to: &out)
        appendNumber(sid, to: &out)
        append("\r\n", to: &out)
    }

    /// `PUB <subject> [reply-to] <#bytes>`, the payload and CRLF.
    public static func publish(_ subject: UnsafeRawBufferPointer, replyTo: UnsafeRawBufferPointer? = nil,
                               payload: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        append("PUB ", to: &out)
        out.append(contentsOf: subject)
        out.append(UInt8(ascii: " "))
        if let replyTo {
            out.append(contentsOf: replyTo)
            out.append(UInt8(ascii: " "))
        }
        appendNumber(UInt64(payload.count), to: &out)
        append("\r\n", to: &out)
        out.append(contentsOf: payload)
        append("\r\n", to: &out)
    }

    public static func ping(to out: inout [UInt8]) { append("PING\r\n", to: &out) }
    public static func pong(to out: inout [UInt8]) { append("PONG\r\n", to: &out) }

    /// Whether `subject` may be published or subscribed to: dot-separated tokens, none empty,
    /// no whitespace or control characters (wildcards `*` and `>` are the caller's business).
    public static func isValidSubject(_ subject: String) -> Bool {
        guard !subject.isEmpty, subject.utf8.count <= 1024 else { return false }
        var tokenLength = 0
        for byte in subject.utf8 {
            if byte <= 0x20 || byte == 0x7F { return false }
            if byte == UInt8(ascii: ".") {
                if tokenLength == 0 { return false }
                tokenLength = 0
            } else {
                tokenLength += 1
            }
        }
        return tokenLength > 0
    }

    static func append(_ text: String, to out: inout [UInt8]) { out.append(contentsOf: text.utf8) }

    static func appendNumber(_ value: UInt64, to out: inout [UInt8]) {
        if value >= 10 { appendNumber(value / 10, to: &out) }
        out.append(UInt8(ascii: "0") + UInt8(value % 10))
    }

    static func quoted(_ text: String) -> String { JSONText.quoted(text) }
}

/// What the client says about itself in CONNECT.
public struct NATSConnectOptions: Sendable, Equatable {
    /// Shown by the server's monitoring (`connz`): which gateway this is.
    public var name: String
    public var token: String?
    public var user: String?
    public var password: String?
    /// NKEY or `.creds`: signed into `signature` for each connection's nonce.
    public var credentials: NATSCredentials?
    /// Set per connection: TLS is in use.
    var tlsRequired = false
    /// Set per connection: the answer to the server's nonce.
    var signature: NATSSignature?

    public init(name: String, token: String? = nil, user: String? = nil, password: String? = nil,
                credentials: NATSCredentials? = nil) {
        self.name = name
        self.token = token
        self.user = user
        self.password = password
        self.credentials = credentials
    }
}
