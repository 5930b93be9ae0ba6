import EventLoop
import MarketData

/// One clock per `max_rate` in use: at each tick of a rate, the capped groups of that rate
/// that changed get their symbol's newest state (`MarketDataService.publishCapped`). Shared by
/// every connection, so a capped subscription costs a share of a tick, not a timer of its own;
/// a rate's clock stops at the first tick after its last subscription went.
final class RateCapClock {
    private let loop: EventLoop
    private let service: MarketDataService
    private var clocks: [Int: Timer] = [:]

    init(loop: EventLoop, service: MarketDataService) {
        self.loop = loop
        self.service = service
    }

    /// A subscription capped at `perSecond` exists: make sure its rate ticks.
    func ensure(_ perSecond: Int) {
        guard clocks[perSecond] == nil else { return }
        clocks[perSecond] = loop.scheduleRepeating(every: 1_000_000_000 / UInt64(perSecond)) { [unowned self] in
            tick(perSecond)
        }
    }

    private func tick(_ perSecond: Int) {
        guard service.registry.cappedSubscriptions[perSecond] != nil else {
            clocks.removeValue(forKey: perSecond)?.cancel()
            return
        }
        service.publishCapped(perSecond: perSecond)
    }
}
