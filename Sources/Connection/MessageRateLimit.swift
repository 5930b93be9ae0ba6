/// How many messages a client may send on a route: a steady rate with room for a burst (a
/// token bucket). Pings count as messages, so a ping flood meets the same bound.
///
/// A class: the route makes one, and every connection's bucket refers to it rather than
/// carrying the route's constants itself (at 18,000 connections, 20 bytes each).
public final class MessageRateLimit: Sendable, Equatable {
    /// Messages per second, sustained.
    public let perSecond: Int
    /// Messages that may arrive at once after a quiet spell; also how many refused messages in
    /// a row end the connection (a client that keeps going after being told).
    public let burst: Int
    /// What one message costs the bucket, and how far behind the clock the bucket may be.
    let nanosecondsPerMessage: UInt64
    let capacity: UInt64
    let burstCount: Int32

    public init(perSecond: Int, burst: Int) {
        precondition(perSecond > 0 && burst > 0, "a rate limit needs a positive rate and burst")
        self.perSecond = perSecond
        self.burst = burst
        nanosecondsPerMessage = max(1, 1_000_000_000 / UInt64(perSecond))
        capacity = nanosecondsPerMessage * UInt64(burst)
        burstCount = Int32(clamping: burst)
    }

    public static func == (lhs: MessageRateLimit, rhs: MessageRateLimit) -> Bool {
        lhs.perSecond == rhs.perSecond && lhs.burst == rhs.burst
    }
}

/// One connection's bucket for a `MessageRateLimit`, in integer nanoseconds so it never drifts.
struct MessageRateLimiter {
    enum Verdict: Equatable {
        /// Within the limit: act on the message.
        case accept
        /// Over the limit: drop the message. `first` is set for the first refusal since the
        /// last accepted message, the one the client is told about.
        case refuse(first: Bool)
        /// Refused `burst` times in a row: the client does not slow down; close it.
        case persistentlyOver
    }

    private let limit: MessageRateLimit
    /// The bucket as the time at which it would be full again: a message costs
    /// `nanosecondsPerMessage`, and the bucket may be at most `capacity` behind `now`.
    private var fullAt: UInt64
    private var refusedInARow: Int32 = 0

    init(_ limit: MessageRateLimit, now: UInt64) {
        self.limit = limit
        fullAt = now
    }

    /// A bucket carried over from another process: `debt` nanoseconds of messages not yet
    /// earned back, and the refusals in a row so far.
    init(_ limit: MessageRateLimit, now: UInt64, debt: UInt64, refusedInARow: Int32) {
        self.init(limit, now: now)
        fullAt = now &+ min(debt, limit.capacity)
        self.refusedInARow = refusedInARow
    }

    /// What a bucket carried over needs: its debt at `now` and the refusals in a row.
    func carried(now: UInt64) -> (debt: UInt64, refusedInARow: Int32) {
        (fullAt > now ? fullAt - now : 0, refusedInARow)
    }

    mutating func admit(now: UInt64) -> Verdict {
        // A bucket that filled up while the client was quiet holds `burst` messages, no more.
        let start = max(fullAt, now)
        if start &+ limit.nanosecondsPerMessage <= now &+ limit.capacity {
            fullAt = start &+ limit.nanosecondsPerMessage
            refusedInARow = 0
            return .accept
        }
        refusedInARow += 1
        if refusedInARow > limit.burstCount { return .persistentlyOver }
        return .refuse(first: refusedInARow == 1)
    }
}
