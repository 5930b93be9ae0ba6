import Bus
import EventLoop
import Logging

/// What the market bus tells the operator: connects, losses, stream problems, failed fetches.
/// Failed connection attempts while the bus is down come every backoff step: at most one line
/// a second of those.
final class BusEventLog {
    private let logger: Logger
    private var lastFailureLine: UInt64 = 0

    init(logger: Logger) { self.logger = logger }

    func record(_ event: MarketBus.Event) {
        switch event {
        case .client(.connected(let server, let info)):
            logger.notice("bus connected", metadata: ["server": "\(server)", "server_name": "\(info.serverName)",
                                                      "version": "\(info.version)", "jetstream": "\(info.jetStream)"])
        case .client(.disconnected(let server, let reason)):
            logger.warning("bus disconnected: reconnecting; clients stay connected and get a fresh snapshot after it",
                           metadata: ["server": "\(server)", "reason": "\(reason)"])
        case .client(.connectFailed(let server, let reason, let retryIn)):
            let now = MonotonicClock.now()
            guard now &- lastFailureLine >= 1_000_000_000 else { return }
            lastFailureLine = now
            logger.warning("bus connection failed", metadata: ["server": "\(server)", "reason": "\(reason)",
                                                               "retry_in_ms": "\(retryIn / 1_000_000)"])
        case .client(.serverError(let text)):
            logger.warning("bus server error", metadata: ["error": "\(text)"])
        case .client(.lameDuck(let server, let delay)):
            logger.notice("bus server entering lame duck mode: moving to another before leaving it",
                          metadata: ["server": "\(server)", "move_in_ms": "\(delay / 1_000_000)"])
        case .client(.moved(let from, let to, let info)):
            logger.notice("bus moved off a server in lame duck mode: the new connection took over before the old one closed",
                          metadata: ["from": "\(from)", "to": "\(to)", "server_name": "\(info.serverName)"])
        case .client(.moveFailed(let server, let reason)):
            logger.warning("bus could not move off a server in lame duck mode: staying until it closes, then reconnecting",
                           metadata: ["server": "\(server)", "reason": "\(reason)"])
        case .client(.discovered(let servers)):
            logger.info("bus cluster announced servers: added to those tried", metadata: ["servers": "\(servers.map(\.description).joined(separator: ","))"])
        case .streamReady(let stream):
            logger.info("bus stream ready", metadata: ["stream": "\(stream)"])
        case .streamUnavailable(let why):
            logger.error("bus stream unavailable: checking again (1 s, doubling to 30 s); meanwhile no snapshots for new subscribers, and a restarted writer numbers from 1",
                         metadata: ["reason": "\(why)"])
        case .snapshotFailed(let symbol, let reason):
            logger.warning("bus snapshot fetch failed", metadata: ["symbol": "\(symbol)", "reason": "\(reason)"])
        }
    }
}
