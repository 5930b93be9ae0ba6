/// Pacing arithmetic for a ticker that emits `rate` updates per second every `tick`
/// nanoseconds (the gateway's simulator, the load generator's publisher), kept free of clocks
/// so it can be tested. Times are nanoseconds since the pacing started.
public struct TickSchedule: Sendable {
    public let rate: Int
    public let tick: UInt64
    private let nanosecondsPerUpdate: Double

    public init(rate: Int, tick: UInt64) {
        precondition(rate > 0 && tick > 0)
        self.rate = rate
        self.tick = tick
        nanosecondsPerUpdate = 1e9 / Double(rate)
    }

    /// How many updates are due by `elapsed`.
    public func due(at elapsed: UInt64) -> UInt64 {
        UInt64(Double(elapsed) / nanosecondsPerUpdate)
    }

    /// How many updates are due by the last tick at or before `elapsed`, ticks falling at
    /// `phase` + n × `tick`. A ticker that sends this many sends whole ticks' worth, the same
    /// updates together every time, whenever its timer happens to fire: a subscriber's
    /// symbols that share a tick share a write (docs/benchmarks-history.md, "writes per delivery").
    public func dueByLastTick(at elapsed: UInt64, phase: UInt64) -> UInt64 {
        guard elapsed >= phase else { return 0 }
        return due(at: phase + (elapsed - phase) / tick * tick)
    }

    /// The first update to send now, given `sent` so far and `due`: after a stall the ticker
    /// catches up by at most 50 ms of updates and skips the rest rather than bursting.
    public func resumePoint(sent: UInt64, due: UInt64) -> UInt64 {
        let maxBacklog = UInt64(max(1, rate / 20))
        return due > sent + maxBacklog ? due - maxBacklog : sent
    }

    /// Where ticks fall within a tick period, from the time one firing was scheduled for.
    public func phase(ofFiringScheduledAt scheduled: UInt64) -> UInt64 { scheduled % tick }

    /// The wall-clock microseconds to stamp on update `index` when it is sent at `elapsed`
    /// (wall time `wallNow`): the time its tick was scheduled, so lateness counts in latency.
    public func timestamp(ofUpdate index: UInt64, phase: UInt64, elapsed: UInt64, wallNow: Int64) -> Int64 {
        let onTime = scheduledTime(ofUpdate: index, phase: phase)
        return wallNow - Int64((elapsed > onTime ? elapsed - onTime : 0) / 1000)
    }

    /// When the ticker should have sent update `index` (0-based): the first tick at or after
    /// the update fell due, with ticks at `phase` + n × `tick` (`phase` < `tick`).
    public func scheduledTime(ofUpdate index: UInt64, phase: UInt64) -> UInt64 {
        let dueAt = UInt64(Double(index + 1) * nanosecondsPerUpdate)
        guard dueAt > phase else { return phase }
        return phase + (dueAt - phase + tick - 1) / tick * tick
    }
}
