import EventLoop

/// What the market bus did, for `/metrics` (the NATS client keeps its own counters too).
public struct BusStatistics {
    /// Bus messages applied and fanned out.
    public var applied: UInt64 = 0
    /// Dropped, by reason: not a bus message (bad JSON, wrong shape, no `seq`, symbol not the
    /// subject's); a new symbol past `--max-symbols`; not newer than the state held.
    public var malformed: UInt64 = 0
    public var overSymbolLimit: UInt64 = 0
    public var stale: UInt64 = 0
    /// Updates that never arrived (the sum of `seq` jumps): lost in a reconnect or on the way.
    public var missedUpdates: UInt64 = 0
    /// Last-value fetches when a symbol is first followed or after a reconnect.
    public var snapshotsFetched: UInt64 = 0
    public var snapshotsAbsent: UInt64 = 0
    public var snapshotFailures: UInt64 = 0
    /// Receive time minus the update's `ts` (0 when the clocks disagree the other way).
    public var feedLag = DurationHistogram()

    public init() {}
}
