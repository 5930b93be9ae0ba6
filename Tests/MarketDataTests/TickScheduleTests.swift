import Testing
@testable import MarketData

@Suite struct TickScheduleTests {
    let millisecond: UInt64 = 1_000_000

    @Test func dueCountFollowsTheRate() {
        let schedule = TickSchedule(rate: 10_000, tick: millisecond)
        #expect(schedule.due(at: 0) == 0)
        #expect(schedule.due(at: 99_999) == 0)
        #expect(schedule.due(at: 100_000) == 1)
        #expect(schedule.due(at: millisecond) == 10)
        #expect(schedule.due(at: 2_500 * millisecond) == 25_000)
    }

    /// However late the timer fires within a tick, the same updates go out together: the ones
    /// due by the last tick, never some of the next tick's.
    @Test func lateFiringsStillSendWholeTicks() {
        let schedule = TickSchedule(rate: 10_000, tick: millisecond)
        for late: UInt64 in [0, 1, 100_000, 999_999] {
            #expect(schedule.dueByLastTick(at: millisecond + late, phase: 0) == 10)
            #expect(schedule.dueByLastTick(at: 7 * millisecond + late, phase: 0) == 70)
        }
        #expect(schedule.dueByLastTick(at: 999_999, phase: 0) == 0)
        // Ticks at 0.3 ms + n ms: at 1.25 ms the last tick was 0.3 ms (3 updates due by then).
        #expect(schedule.dueByLastTick(at: 1_250_000, phase: 300_000) == 3)
        #expect(schedule.dueByLastTick(at: 1_300_000, phase: 300_000) == 13)
        #expect(schedule.dueByLastTick(at: 200_000, phase: 300_000) == 0)
        // And they are exactly the updates whose scheduled tick has come.
        let sent = schedule.dueByLastTick(at: 5_300_000, phase: 300_000)
        #expect(schedule.scheduledTime(ofUpdate: sent - 1, phase: 300_000) <= 5_300_000)
        #expect(schedule.scheduledTime(ofUpdate: sent, phase: 300_000) > 5_300_000)
    }

    @Test func anUpdateBelongsToTheFirstTickAtOrAfterItFellDue() {
        let schedule = TickSchedule(rate: 10_000, tick: millisecond)  // one update per 100 µs
        // Ticks at 0, 1, 2 ms: updates 0...9 (due 0.1...1.0 ms) go out at 1 ms, update 10 at 2 ms.
        #expect(schedule.scheduledTime(ofUpdate: 0, phase: 0) == millisecond)
        #expect(schedule.scheduledTime(ofUpdate: 9, phase: 0) == millisecond)
        #expect(schedule.scheduledTime(ofUpdate: 10, phase: 0) == 2 * millisecond)
        // Ticks shifted to 0.3, 1.3 ms...: due at 0.1-0.3 ms -> 0.3 ms; due at 0.4 ms -> 1.3 ms.
        #expect(schedule.scheduledTime(ofUpdate: 0, phase: 300_000) == 300_000)
        #expect(schedule.scheduledTime(ofUpdate: 2, phase: 300_000) == 300_000)
        #expect(schedule.scheduledTime(ofUpdate: 3, phase: 300_000) == 1_300_000)
        #expect(schedule.scheduledTime(ofUpdate: 12, phase: 300_000) == 1_300_000)
        #expect(schedule.scheduledTime(ofUpdate: 13, phase: 300_000) == 2_300_000)
    }

    @Test func aStallCatchesUpByAtMostFiftyMilliseconds() {
        let schedule = TickSchedule(rate: 10_000, tick: millisecond)   // 500 updates in 50 ms
        #expect(schedule.resumePoint(sent: 100, due: 110) == 100)       // a normal tick
        #expect(schedule.resumePoint(sent: 100, due: 600) == 100)       // exactly 50 ms behind
        #expect(schedule.resumePoint(sent: 100, due: 2_100) == 1_600)   // 200 ms behind: skip 150 ms
        #expect(TickSchedule(rate: 5, tick: millisecond).resumePoint(sent: 0, due: 3) == 2)  // at least 1
    }

    @Test func stampsCarryTheScheduledTickNotTheSendingTime() {
        let schedule = TickSchedule(rate: 10_000, tick: millisecond)
        #expect(schedule.phase(ofFiringScheduledAt: 7_300_000) == 300_000)
        // Update 12 belongs to the tick at 1.3 ms; sent at 1.5 ms it is 200 µs late.
        #expect(schedule.timestamp(ofUpdate: 12, phase: 300_000, elapsed: 1_500_000, wallNow: 5_000_000) == 4_999_800)
        // Sent before its tick (a firing slightly early): no negative lateness.
        #expect(schedule.timestamp(ofUpdate: 12, phase: 300_000, elapsed: 1_200_000, wallNow: 5_000_000) == 5_000_000)
    }

    @Test func aBacklogKeepsItsOwnTicks() {
        // 25,000/s: after a 5 ms stall the ticker catches up in one firing, but each update
        // keeps the tick it was due at, so its lateness is measured, not hidden.
        let schedule = TickSchedule(rate: 25_000, tick: millisecond)
        let scheduled = (0..<schedule.due(at: 5 * millisecond)).map { schedule.scheduledTime(ofUpdate: $0, phase: 0) }
        #expect(scheduled.count == 125)
        #expect(Set(scheduled) == Set((1...5).map { UInt64($0) * millisecond }))
        #expect(scheduled.filter { $0 == millisecond }.count == 25)
    }
}
