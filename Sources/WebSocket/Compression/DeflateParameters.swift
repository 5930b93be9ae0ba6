/// What one permessage-deflate negotiation agreed (RFC 7692 §7.1), from the server's side of
/// the wire: `server*` parameters bind what the server sends, `client*` what the client sends.
public struct DeflateParameters: Sendable, Equatable {
    /// The server resets its compressor for every message (Tickstream always asks for this:
    /// it is what lets one compressed frame serve every subscriber).
    public var serverNoContextTakeover: Bool
    /// The client resets its compressor for every message, so the receiver keeps no window.
    public var clientNoContextTakeover: Bool
    /// Largest LZ77 window the server's messages may use, 2^bits (8...15).
    public var serverMaxWindowBits: Int
    /// Largest LZ77 window the client's messages may use, 2^bits (8...15).
    public var clientMaxWindowBits: Int

    public init(serverNoContextTakeover: Bool = false, clientNoContextTakeover: Bool = false,
                serverMaxWindowBits: Int = 15, clientMaxWindowBits: Int = 15) {
        self.serverNoContextTakeover = serverNoContextTakeover
        self.clientNoContextTakeover = clientNoContextTakeover
        self.serverMaxWindowBits = serverMaxWindowBits
        self.clientMaxWindowBits = clientMaxWindowBits
    }

    /// The `Sec-WebSocket-Extensions` value a server answers with.
    public var responseHeader: String {
        var value = "permessage-deflate"
        if serverNoContextTakeover { value += "; server_no_context_takeover" }
        if clientNoContextTakeover { value += "; client_no_context_takeover" }
        if serverMaxWindowBits < 15 { value += "; server_max_window_bits=\(serverMaxWindowBits)" }
        if clientMaxWindowBits < 15 { value += "; client_max_window_bits=\(clientMaxWindowBits)" }
        return value
    }
}
