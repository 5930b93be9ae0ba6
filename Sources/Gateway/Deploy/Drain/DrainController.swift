import Connection
import EventLoop
import Logging

/// Graceful draining for deploys (SIGTERM, SIGINT, `POST /admin/drain`, or a takeover).
///
/// 1. At once: readiness answers 503 and new upgrades get 503 with Retry-After, so load
///    balancers and clients go elsewhere. The listener stays open answering that (unless a new
///    instance took it over).
/// 2. After `--drain-grace`: connections are evicted in evenly spaced batches over
///    `--drain-duration`, never all at once, so the next instance gets no reconnect stampede.
///    v2 clients first get `{"type":"reconnect",...}`; everything already queued is flushed;
///    then Close 1001. Clients not yet evicted keep receiving updates.
/// 3. The process exits 0 when the last connection is gone; `--drain-timeout` is the hard
///    bound, after which what remains is cut (counted and logged).
final class DrainController {
    private let context: GatewayContext
    private let connections: ConnectionRegistry
    /// With --reuse-port: stop accepting so the other instance on the port gets new clients.
    private let releaseSharedListener: () -> Void
    /// The drain is over: the gateway closes what is left and leaves its loop.
    private let finished: () -> Void
    private let started: () -> Void
    private var startedAt: UInt64 = 0
    private var evictionTimer: Timer?
    private var hardTimer: Timer?
    private var queue: [WebSocketConnection] = []
    private var batchSize = 1
    /// Batches are this far apart; the batch size spreads the connections over the duration.
    private static let batchInterval: UInt64 = 100_000_000

    /// `started` runs once when a drain begins (what stops at once rather than at the end).
    init(context: GatewayContext, connections: ConnectionRegistry,
         releaseSharedListener: @escaping () -> Void, started: @escaping () -> Void = {}, finished: @escaping () -> Void) {
        self.started = started
        self.context = context
        self.connections = connections
        self.releaseSharedListener = releaseSharedListener
        self.finished = finished
    }

    /// Kept in the context, where routing, readiness and metrics read it.
    private(set) var phase: DrainPhase {
        get { context.drainPhase }
        set { context.drainPhase = newValue }
    }

    /// Starts draining; a second call is harmless. `skipGrace` is for a takeover, where the
    /// new instance already owns the listener and no load balancer needs time.
    func begin(trigger: String, skipGrace: Bool = false) {
        guard phase == .serving else {
            context.logger.info("drain already in progress", metadata: ["trigger": "\(trigger)", "phase": "\(phase.rawValue)"])
            return
        }
        let configuration = context.configuration
        phase = .grace
        startedAt = MonotonicClock.now()
        context.logger.notice("drain started: readiness 503, new upgrades refused", metadata: [
            "trigger": "\(trigger)", "grace_s": "\(skipGrace ? 0 : configuration.drainGrace)",
            "duration_s": "\(configuration.drainDuration)", "timeout_s": "\(configuration.drainTimeout)",
            "connections": "\(connections.count)"])
        started()
        if configuration.reusePort && !skipGrace {
            // Another instance shares the port: stop accepting so the kernel sends every new
            // connection there, instead of answering half of them 503.
            releaseSharedListener()
        }
        hardTimer = context.loop.schedule(after: ConnectionLimits.nanoseconds(configuration.drainTimeout)) {
            self.cutRemaining(because: "drain timeout")
        }
        let grace = skipGrace ? 0 : ConnectionLimits.nanoseconds(configuration.drainGrace)
        evictionTimer = context.loop.schedule(after: grace) { self.startEviction() }
    }

    private func startEviction() {
        phase = .evicting
        queue = connections.all
        let batches = max(1, Int(context.configuration.drainDuration * 1e9 / Double(Self.batchInterval)))
        batchSize = max(1, (queue.count + batches - 1) / batches)
        context.logger.notice("drain: evicting", metadata: [
            "connections": "\(queue.count)", "batches": "\(min(batches, max(1, queue.count)))",
            "per_batch": "\(batchSize)"])
        evictBatch()
    }

    private func evictBatch() {
        var evicted = 0
        while evicted < batchSize, let connection = queue.popLast() {
            if evict(connection) { evicted += 1 }
        }
        if queue.isEmpty {
            evictionTimer = nil
            context.logger.info("drain: every connection asked to close")
            finishIfIdle()
        } else {
            evictionTimer = context.loop.schedule(after: Self.batchInterval) { self.evictBatch() }
        }
    }

    /// Closes one connection the polite way; false if it was already gone.
    private func evict(_ connection: WebSocketConnection) -> Bool {
        switch connection.phase {
        case .open:
            if connection.acceptsData, let session = connection.session as? DrainableSession {
                session.connectionWillDrain(connection, retryAfterMilliseconds: retryAfterMilliseconds())
            }
            connection.close(code: .goingAway, reason: "server draining")
            context.metrics.drainEvictions += 1
            return true
        case .awaitingRequest:
            connection.closeIdleHTTP()
            return true
        case .awaitingResponse, .closing, .closed:
            return false
        }
    }

    /// Spread clients' reconnects over a second after they are evicted.
    private func retryAfterMilliseconds() -> Int { Int.random(in: 100...1000) }

    /// Called when a connection goes away: the last one ends the drain.
    func connectionClosed() {
        if phase == .evicting { finishIfIdle() }
    }

    private func finishIfIdle() {
        guard phase == .evicting, queue.isEmpty, connections.count == 0 else { return }
        finish(forced: 0)
    }

    /// Serving again, as if no drain had begun: a standby taking its clients back.
    func resume() {
        evictionTimer?.cancel()
        evictionTimer = nil
        hardTimer?.cancel()
        hardTimer = nil
        queue = []
        phase = .serving
    }

    /// Ends the drain now: what remains is closed without a handshake (counted and logged).
    /// For the hard timeout, and for a second Ctrl-C from someone who will not wait.
    func cutRemaining(because reason: String) {
        guard phase != .finished else { return }
        let remaining = connections.all
        context.metrics.drainForcedCloses += UInt64(remaining.count)
        context.logger.warning("\(reason): closing what remains", metadata: ["connections": "\(remaining.count)"])
        for connection in remaining { connection.abort() }
        finish(forced: remaining.count)
    }

    private func finish(forced: Int) {
        guard phase != .finished else { return }
        phase = .finished
        evictionTimer?.cancel()
        hardTimer?.cancel()
        let milliseconds = (MonotonicClock.now() - startedAt) / 1_000_000
        context.logger.notice("drain finished", metadata: [
            "milliseconds": "\(milliseconds)", "forced_closes": "\(forced)",
            "evictions": "\(context.metrics.drainEvictions)"])
        finished()
    }
}
