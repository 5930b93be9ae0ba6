/// The bounds a WebSocket route sets on its connections at the upgrade, so each route has its
/// own: `/echo` may take 16 MiB messages at any rate while `/ws` stays small and paced.
public struct RouteLimits: Sendable, Equatable {
    /// Largest message, summed over its fragments (inflated, with permessage-deflate); larger
    /// fails the connection with 1009.
    public var maxMessageBytes: Int
    /// Messages (data and pings) a client may send; nil for no limit.
    public var messageRate: MessageRateLimit?

    public init(maxMessageBytes: Int, messageRate: MessageRateLimit? = nil) {
        self.maxMessageBytes = maxMessageBytes
        self.messageRate = messageRate
    }
}
