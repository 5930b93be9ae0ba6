@testable import Connection
import Testing

/// A connection handed to another process keeps its message-rate bucket: a client that spent
/// its burst before the move does not get a fresh one after it.
@Suite struct RateLimitCarryTests {
    @Test func aCarriedBucketKeepsItsDebtAndRefusals() {
        let limit = MessageRateLimit(perSecond: 10, burst: 3)
        var bucket = MessageRateLimiter(limit, now: 1_000_000_000)
        for _ in 0..<3 { #expect(bucket.admit(now: 1_000_000_000) == .accept) }
        #expect(bucket.admit(now: 1_000_000_000) == .refuse(first: true))
        let carried = bucket.carried(now: 1_000_000_000)
        #expect(carried.debt == 300_000_000 && carried.refusedInARow == 1)
        // Elsewhere, on another clock.
        var moved = MessageRateLimiter(limit, now: 5_000, debt: carried.debt, refusedInARow: carried.refusedInARow)
        #expect(moved.admit(now: 5_000) == .refuse(first: false))
        #expect(moved.admit(now: 5_000 + 100_000_000) == .accept)
        // A debt larger than the bucket is capped at the bucket.
        let capped = MessageRateLimiter(limit, now: 0, debt: .max, refusedInARow: 0)
        #expect(capped.carried(now: 0).debt == 300_000_000)
    }
}
