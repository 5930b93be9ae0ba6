/// The simulator's pacing arithmetic, kept free of clocks so it can be tested: `rate` updates
/// per second emitted by a ticker every `tick` nanoseconds. Times are nanoseconds since the
/// pacing started.
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

    /// When the ticker should have sent update `index` (0-based): the first tick at or after
    /// the update fell due, with ticks at `phase` + n × `tick` (`phase` < `tick`).
    public func scheduledTime(ofUpdate index: UInt64, phase: UInt64) -> UInt64 {
        let dueAt = UInt64(Double(index + 1) * nanosecondsPerUpdate)
        guard dueAt > phase else { return phase }
        return phase + (dueAt - phase + tick - 1) / tick * tick
    }
}
