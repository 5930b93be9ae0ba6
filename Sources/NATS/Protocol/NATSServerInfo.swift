import ByteBuffers

/// What a server says about itself in INFO, the parts the client uses, read with the shared
/// JSON reader (once per connection and on cluster changes).
public struct NATSServerInfo: Sendable, Equatable {
    public var serverName = ""
    public var version = ""
    public var maxPayload = 1 << 20
    public var headers = false
    public var jetStream = false
    /// Lame duck mode: the server is about to shut down and asks clients to move.
    public var lameDuck = false
    /// The cluster's servers clients may use (`host:port`), as the server announces them.
    public var connectURLs: [String] = []
    /// The server accepts only TLS: the client starts it right after this INFO.
    public var tlsRequired = false
    /// The server offers TLS without requiring it.
    public var tlsAvailable = false
    /// What a client with NKEY or JWT credentials signs in CONNECT.
    public var nonce: String?

    public init() {}

    /// Reads the fields it knows from INFO's JSON; a field of another type, or JSON it cannot
    /// read, leaves the rest at their defaults.
    public init(json: UnsafeRawBufferPointer) {
        var reader = JSONReader(json)
        try? reader.readObject { reader, key in
            switch reader.peekValueStart() {
            case UInt8(ascii: "\"") where bytesEqual(key, "server_name") || bytesEqual(key, "version") || bytesEqual(key, "nonce"):
                // Names, versions and nonces carry no escapes.
                let text = String(decoding: try reader.readStringBytes(), as: UTF8.self)
                if bytesEqual(key, "server_name") { serverName = text } else if bytesEqual(key, "version") { version = text } else { nonce = text }
            case UInt8(ascii: "t"), UInt8(ascii: "f"):
                let flag = try reader.readBool()
                if bytesEqual(key, "headers") { headers = flag } else if bytesEqual(key, "jetstream") { jetStream = flag }
                else if bytesEqual(key, "ldm") { lameDuck = flag }
                else if bytesEqual(key, "tls_required") { tlsRequired = flag }
                else if bytesEqual(key, "tls_available") { tlsAvailable = flag }
            case UInt8(ascii: "[") where bytesEqual(key, "connect_urls"):
                var urls: [String] = []
                try reader.readArray { reader, _ in
                    guard reader.peekValueStart() == UInt8(ascii: "\"") else { return try reader.skipValue() }
                    urls.append(String(decoding: try reader.readStringBytes(), as: UTF8.self))
                }
                connectURLs = urls
            default:
                if bytesEqual(key, "max_payload"), let number = try? reader.readInteger(in: 1...Int64(Int32.max)) {
                    maxPayload = Int(number)
                } else {
                    try reader.skipValue()
                }
            }
        }
    }
}
