import EventLoop
import MarketData

/// Paces the simulated market on the event loop: a 1 ms timer that emits the updates due by
/// its last scheduled tick at `rate` per second, so the average rate is exact even though
/// timers fire late on a busy loop, and each tick's updates always go out together (a late
/// firing does not move the batch boundary). After a stall it catches up by at most 50 ms of updates rather
/// than bursting. Each update is stamped with the time the ticker was scheduled to emit it,
/// so a late loop's backlog shows in clients' measured latency.
final class SimulatorDriver {
    private var market: SimulatedMarket
    private unowned let loop: EventLoop
    /// Takes one step of the market stamped with the given time and sends it on.
    private let step: (inout SimulatedMarket, Int64) -> Void
    private var start: UInt64 = 0
    private var emitted: UInt64 = 0
    private var timer: Timer?
    private let pacing: TickSchedule
    private static let tick: UInt64 = 1_000_000

    /// `step` applies a step here (`MarketDataService.stepSimulator`) or publishes it into the bus.
    init(market: SimulatedMarket, rate: Int, loop: EventLoop, step: @escaping (inout SimulatedMarket, Int64) -> Void) {
        self.market = market
        self.pacing = TickSchedule(rate: rate, tick: Self.tick)
        self.loop = loop
        self.step = step
    }

    func start(now: UInt64) {
        // Ticks at start + n ms exactly (phase 0): each tick's batch is the same run of
        // symbols every round, so a subscriber's neighbouring symbols share a write.
        start = now
        emitted = 0
        timer = loop.scheduleRepeating(every: Self.tick, firstAt: now &+ Self.tick) { [unowned(unsafe) self] in self.fire() }
    }

    func stop() {
        timer?.cancel()
        timer = nil
    }

    var isRunning: Bool { timer != nil }

    /// Where the market's walk is (a handover carries it to the next instance).
    var position: SimulatedMarket.Position { market.position }

    /// Continues another instance's walk, before `start`.
    func resume(from position: SimulatedMarket.Position) { market.resume(from: position) }

    private func fire() {
        let now = MonotonicClock.now()
        let elapsed = now - start
        // This firing was scheduled for `timer.deadline`: ticks fall at start + phase + n ms.
        let phase = pacing.phase(ofFiringScheduledAt: (timer?.deadline ?? now) &- start)
        let due = pacing.dueByLastTick(at: elapsed, phase: phase)
        emitted = pacing.resumePoint(sent: emitted, due: due)
        let wallNow = WallClock.microsecondsSinceEpoch()
        while emitted < due {
            step(&market, pacing.timestamp(ofUpdate: emitted, phase: phase, elapsed: elapsed, wallNow: wallNow))
            emitted += 1
        }
    }
}
