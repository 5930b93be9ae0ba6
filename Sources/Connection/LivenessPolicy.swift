import ByteBuffers
import WebSocket

/// How a server finds peers that are gone without a FIN or RST (a vanished network, a
/// suspended laptop, a load balancer that dropped the flow): it pings a connection that has
/// sent nothing for `pingInterval`, and closes one that has sent nothing, not even a pong, for
/// `idleTimeout`.
///
/// Thousands of connections that connected together would fall silent together: each is
/// pinged somewhere in the quarter interval after its own silence began (a spread fixed per
/// connection), and every ping is the same shared two-byte frame, so a round of pings costs
/// neither a burst of writes in one loop iteration nor an output buffer per connection.
public struct LivenessPolicy {
    /// Nanoseconds of silence from the peer before it is pinged (and between pings).
    public var pingInterval: UInt64
    /// Nanoseconds of silence from the peer before the connection is closed with 1001 "idle".
    public var idleTimeout: UInt64
    /// The server's ping: an empty, unmasked Ping frame, built once and shared.
    let pingFrame = SharedBytes.copying(FrameEncoder.frame(opcode: .ping, payload: [UInt8]()))

    public init(pingInterval: UInt64, idleTimeout: UInt64) {
        self.pingInterval = pingInterval
        self.idleTimeout = idleTimeout
    }

    /// How often the connections should be checked: often enough that a deadline is late by a
    /// tenth of the shorter period at most, and the pings spread over many checks; never more
    /// than 20 times a second nor less than 4.
    public var checkInterval: UInt64 {
        min(250_000_000, max(50_000_000, min(pingInterval, idleTimeout) / 10))
    }

    /// When a connection with this spread key (any number fixed for the connection) is due
    /// for a ping: between one and one and a quarter intervals of silence.
    public func pingDelay(spreadKey: Int32) -> UInt64 {
        guard pingInterval != .max else { return .max }
        let fraction = UInt64(UInt32(bitPattern: spreadKey &* -1_640_531_535) >> 22)  // 0..<1024
        return pingInterval &+ pingInterval / 4 / 1024 * fraction
    }
}

/// What a liveness check did to a connection.
public enum LivenessOutcome: Sendable, Equatable {
    /// Heard from recently enough, or not open: nothing to do.
    case alive
    /// Silent for a ping interval: pinged.
    case pinged
    /// Silent for the idle timeout: the close handshake started (1001 "idle").
    case closedIdle
}
