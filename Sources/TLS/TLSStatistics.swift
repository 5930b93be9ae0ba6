/// What happened to TLS connections, for `/metrics`. Shared by every channel of a context
/// family on one loop, so plain counters (no atomics) suffice.
public final class TLSStatistics {
    /// Handshakes that finished.
    public internal(set) var handshakesCompleted = 0
    /// Handshakes the peer broke: garbage, an unsupported version, no common cipher or ALPN.
    public internal(set) var failedBadInput = 0
    /// Of those, plaintext HTTP requests sent to the TLS port (answered with a plain 400).
    public internal(set) var plaintextRequests = 0
    /// Handshakes the peer abandoned (closed or reset before finishing).
    public internal(set) var failedPeerLeft = 0
    /// Handshakes the gateway cut because they did not finish in time (or a drain came first).
    public internal(set) var failedTimeout = 0
    /// Application-data records sealed, and the plaintext they carried (bytes per record =
    /// how well writes were gathered: one record holds many frames).
    public internal(set) var recordsSealed = 0
    public internal(set) var plaintextBytesSealed = 0

    public init() {}
}
