/// How busy the loop is, kept with plain integers on the loop thread and read at scrape time:
/// a histogram of iteration work time (from the end of the wait to the end of the flush) and
/// how late timers fire (lag).
public struct LoopStatistics {
    /// Upper bounds of the iteration-time buckets, in nanoseconds.
    public static let bucketBounds: [UInt64] = [
        10_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000, 50_000_000, 250_000_000,
    ]
    /// Counts per bucket; the last slot counts iterations above every bound.
    public private(set) var bucketCounts = [UInt64](repeating: 0, count: LoopStatistics.bucketBounds.count + 1)
    public private(set) var iterationCount: UInt64 = 0
    public private(set) var totalNanoseconds: UInt64 = 0
    /// The most recent measured lateness of the loop's lag probe, in nanoseconds.
    public internal(set) var lastLag: UInt64 = 0

    @inline(__always)
    mutating func record(iteration nanoseconds: UInt64) {
        var index = 0
        while index < Self.bucketBounds.count && nanoseconds > Self.bucketBounds[index] { index += 1 }
        bucketCounts[index] &+= 1
        iterationCount &+= 1
        totalNanoseconds &+= nanoseconds
    }

}
