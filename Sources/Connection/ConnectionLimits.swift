/// The bounds one connection works within. The server sets the HTTP ones for every accepted
/// connection and the message limit per route at the upgrade (`/echo` may take 16 MiB while
/// `/ws` stays small); a client sets them when it dials.
public struct ConnectionLimits: Sendable, Equatable {
    /// Largest message, summed over its fragments; larger fails the connection with 1009.
    public var maxMessageBytes: Int
    /// Largest HTTP head (a request on the server, the 101 response on a client).
    public var maxHeaderBytes: Int
    /// Largest request body the server reads (POST endpoints); larger is answered 413.
    public var maxBodyBytes: Int
    /// Nanoseconds for a request head to arrive (server; also the keep-alive idle time) or for
    /// the handshake response to arrive (client).
    public var handshakeTimeout: UInt64
    /// Nanoseconds to wait for the peer's Close reply, then for its TCP close.
    public var closeTimeout: UInt64

    public init(maxMessageBytes: Int = 65536, maxHeaderBytes: Int = 8192, maxBodyBytes: Int = 65536,
                handshakeTimeout: UInt64 = 10_000_000_000, closeTimeout: UInt64 = 5_000_000_000) {
        self.maxMessageBytes = maxMessageBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.maxBodyBytes = maxBodyBytes
        self.handshakeTimeout = handshakeTimeout
        self.closeTimeout = closeTimeout
    }

    /// Input a socket may hold between reads while upgraded: one frame header (at most 14
    /// bytes) more than the largest message.
    public static func bufferedFrameBytes(maxMessageBytes: Int) -> Int { maxMessageBytes + 14 }

    /// Nanoseconds for a duration in seconds, for loop timers.
    public static func nanoseconds(_ seconds: Double) -> UInt64 { UInt64(max(0, seconds) * 1_000_000_000) }
}
