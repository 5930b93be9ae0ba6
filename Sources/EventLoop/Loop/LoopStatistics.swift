/// How busy the loop is, kept with plain integers on the loop thread and read at scrape time:
/// how long iterations work (from the end of the wait to the end of the flush), how long output
/// waits before the kernel takes it, and how late timers fire (lag).
public struct LoopStatistics {
    /// Work time of each iteration.
    public private(set) var iterations = DurationHistogram()
    /// Per write: how long its oldest bytes had waited since they were queued on a connection
    /// with nothing pending. Market data is queued as it is fanned out, so this is the gateway's
    /// own share of an update's latency.
    public private(set) var outputWaits = DurationHistogram()
    /// The same per latency class (`StreamSocket.latencyClass`), index 0 unused: a socket's
    /// class is a set of feature-flag cohorts (one bit each), so each cohort's waits are the
    /// sum of the classes with its bit.
    public private(set) var classOutputWaits = InlineArray<16, DurationHistogram>(repeating: DurationHistogram())
    /// The most recent measured lateness of the loop's lag probe, in nanoseconds.
    public internal(set) var lastLag: UInt64 = 0
    /// Every lateness the lag probe measured (ten a second): a stall shows in its tail.
    public internal(set) var lags = DurationHistogram()
    /// Reads that returned bytes, over every socket of the loop, and the bytes they returned
    /// (as they came off the wire: compressed, or encrypted with TLS).
    public internal(set) var reads: UInt64 = 0
    public internal(set) var bytesRead: UInt64 = 0
    /// Flushes that wrote bytes, over every socket: each is one `sendmsg` (a second only past
    /// 1,024 queued frames). Divided by deliveries, the figure that decides throughput on one
    /// core (the kernel's cost per write).
    public var writes: UInt64 { outputWaits.count }

    @inline(__always)
    mutating func record(iteration nanoseconds: UInt64) { iterations.record(nanoseconds) }

    @inline(__always)
    mutating func record(outputWait nanoseconds: UInt64, latencyClass: UInt8 = 0) {
        outputWaits.record(nanoseconds)
        if latencyClass != 0 { classOutputWaits[Int(latencyClass & 15)].record(nanoseconds) }
    }
}

/// Durations counted into fixed buckets (Prometheus histogram style), without allocation.
public struct DurationHistogram {
    /// Upper bounds of the buckets, in nanoseconds.
    public static let bucketBounds: [UInt64] = [
        10_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000, 50_000_000, 250_000_000,
    ]
    /// Counts per bucket, in place (no array uniqueness check per record); the last slot
    /// counts durations above every bound.
    private var counts = InlineArray<12, UInt64>(repeating: 0)
    public private(set) var count: UInt64 = 0
    public private(set) var totalNanoseconds: UInt64 = 0

    public init() {}

    /// Counts per bucket, as `bucketBounds` orders them, then the count above every bound.
    public var bucketCounts: [UInt64] { (0..<counts.count).map { counts[$0] } }

    @inline(__always)
    public mutating func record(_ nanoseconds: UInt64) {
        counts[Self.bucketIndex(nanoseconds)] &+= 1
        count &+= 1
        totalNanoseconds &+= nanoseconds
    }

    /// The bucket of `nanoseconds`: the first bound it does not exceed. Compares against
    /// literals (no array walk), because it runs once per write; a test keeps it in step with
    /// `bucketBounds`.
    @inline(__always)
    static func bucketIndex(_ nanoseconds: UInt64) -> Int {
        if nanoseconds <= 500_000 {
            if nanoseconds <= 50_000 { return nanoseconds <= 10_000 ? 0 : 1 }
            return nanoseconds <= 100_000 ? 2 : (nanoseconds <= 250_000 ? 3 : 4)
        }
        if nanoseconds <= 5_000_000 { return nanoseconds <= 1_000_000 ? 5 : (nanoseconds <= 2_500_000 ? 6 : 7) }
        return nanoseconds <= 10_000_000 ? 8 : (nanoseconds <= 50_000_000 ? 9 : (nanoseconds <= 250_000_000 ? 10 : 11))
    }
}
