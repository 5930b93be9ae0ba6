import Testing
@testable import EventLoop

@Suite struct DurationHistogramTests {
    @Test func bucketIndexMatchesTheBounds() {
        let bounds = DurationHistogram.bucketBounds
        #expect(DurationHistogram.bucketIndex(0) == 0)
        for (index, bound) in bounds.enumerated() {
            #expect(DurationHistogram.bucketIndex(bound) == index, "at \(bound)")
            #expect(DurationHistogram.bucketIndex(bound + 1) == index + 1, "just above \(bound)")
        }
        #expect(DurationHistogram.bucketIndex(UInt64.max) == bounds.count)
        #expect(DurationHistogram().bucketCounts.count == bounds.count + 1)
    }

    @Test func recordCountsSumsAndBuckets() {
        var histogram = DurationHistogram()
        for nanoseconds: UInt64 in [5_000, 10_000, 10_001, 3_000_000, 900_000_000] { histogram.record(nanoseconds) }
        #expect(histogram.count == 5)
        #expect(histogram.totalNanoseconds == 903_025_001)
        #expect(histogram.bucketCounts[0] == 2)           // <= 10 µs
        #expect(histogram.bucketCounts[1] == 1)           // <= 50 µs
        #expect(histogram.bucketCounts[7] == 1)           // <= 5 ms
        #expect(histogram.bucketCounts.last == 1)         // above every bound
        #expect(histogram.bucketCounts.reduce(0, +) == 5)
    }
}
