import EventLoop
import MarketData

/// Paces the simulated market on the event loop: a 1 ms timer that emits however many
/// updates are due at `rate` per second, so the average rate is exact even though timers
/// fire late on a busy loop. After a stall it catches up by at most 50 ms of updates rather
/// than bursting.
final class SimulatorDriver {
    private var market: SimulatedMarket
    private let rate: Int
    private unowned let loop: EventLoop
    private unowned let service: MarketDataService
    private var start: UInt64 = 0
    private var emitted: UInt64 = 0
    private var timer: Timer?
    private static let tick: UInt64 = 1_000_000

    init(market: SimulatedMarket, rate: Int, loop: EventLoop, service: MarketDataService) {
        self.market = market
        self.rate = rate
        self.loop = loop
        self.service = service
    }

    func start(now: UInt64) {
        start = now
        schedule()
    }

    func stop() {
        timer?.cancel()
        timer = nil
    }

    var isRunning: Bool { timer != nil }

    /// One repeating timer for the whole run: no allocation per tick.
    private func schedule() {
        timer = loop.scheduleRepeating(every: Self.tick) { [unowned(unsafe) self] in self.fire() }
    }

    private func fire() {
        let elapsed = MonotonicClock.now() - start
        let due = UInt64((Double(elapsed) / 1e9) * Double(rate))
        let maxBurst = UInt64(max(1, rate / 20))
        if due > emitted + maxBurst { emitted = due - maxBurst }
        let timestamp = WallClock.microsecondsSinceEpoch()
        while emitted < due {
            service.stepSimulator(&market, timestamp: timestamp)
            emitted += 1
        }
    }
}
