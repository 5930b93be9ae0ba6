/// One price level pair: the best bids and asks at the same depth index.
public struct BookLevel: Equatable, Sendable {
    public var bidPrice: FixedPoint
    public var bidSize: FixedPoint
    public var askPrice: FixedPoint
    public var askSize: FixedPoint

    public init(bidPrice: FixedPoint, bidSize: FixedPoint, askPrice: FixedPoint, askSize: FixedPoint) {
        self.bidPrice = bidPrice
        self.bidSize = bidSize
        self.askPrice = askPrice
        self.askSize = askSize
    }
}

/// The latest state of one symbol: what an update carries and what a snapshot replays.
public struct BookState: Equatable, Sendable {
    /// Most levels kept and served (v2 depth goes up to this).
    public static let maxLevels = 50

    public var last: FixedPoint
    public var bid: FixedPoint
    public var ask: FixedPoint
    /// Best first; at most `maxLevels`.
    public var levels: [BookLevel]
    /// This symbol's update count, assigned by the gateway: +1 per update.
    public var seq: UInt64
    /// Feed time, microseconds since the Unix epoch.
    public var timestamp: Int64

    public init(last: FixedPoint, bid: FixedPoint, ask: FixedPoint, levels: [BookLevel], seq: UInt64 = 0, timestamp: Int64) {
        self.last = last
        self.bid = bid
        self.ask = ask
        self.levels = levels
        self.seq = seq
        self.timestamp = timestamp
    }
}
