/// How a server finds peers that are gone without a FIN or RST (a vanished network, a
/// suspended laptop, a load balancer that dropped the flow): it pings a connection that has
/// sent nothing for `pingInterval`, and closes one that has sent nothing, not even a pong, for
/// `idleTimeout`.
public struct LivenessPolicy: Sendable, Equatable {
    /// Nanoseconds of silence from the peer before it is pinged (and between pings).
    public var pingInterval: UInt64
    /// Nanoseconds of silence from the peer before the connection is closed with 1001 "idle".
    public var idleTimeout: UInt64

    public init(pingInterval: UInt64, idleTimeout: UInt64) {
        self.pingInterval = pingInterval
        self.idleTimeout = idleTimeout
    }

    /// How often the connections should be checked: often enough that a deadline is late by a
    /// tenth of the shorter period at most, and never more than once a second (or 20 times).
    public var checkInterval: UInt64 {
        min(1_000_000_000, max(50_000_000, min(pingInterval, idleTimeout) / 10))
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
