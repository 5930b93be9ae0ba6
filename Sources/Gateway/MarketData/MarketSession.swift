import Auth
import ByteBuffers
import Connection
import EventLoop
import MarketData
import WebSocket

/// One subscriber connection on /ws: its protocol version, its subscriptions, and what
/// happens when it cannot keep up.
///
/// Slow consumers: while the connection's queue is over `--max-queue-bytes`, new updates are
/// not queued; each one replaces the previous pending update of its symbol (conflation), so
/// memory is bounded by the number of subscribed symbols. When the queue drains to half the
/// bound, the newest update of each conflated symbol is queued (v2 clients see the seq jump).
/// A connection still over the bound after `--slow-consumer-timeout` is closed with 1008.
///
/// A v2 subscription may ask for deltas (`DeltaEncoder`): whenever the client may not hold the
/// state a delta applies to (its updates were conflated), the next one it gets is the whole
/// state. A rate cap puts the subscription in a capped group (`SubscriptionRegistry`), which
/// sends whole states at each tick of its rate (`RateCapClock`).
///
/// With a token, its claims bound the session: only symbols it allows may be subscribed to
/// (others are an error reply, `forbidden_symbol`), and at its `exp` the client is told
/// (`token_expired`) and closed with 1008.
final class MarketSession: Subscriber, DrainableSession {
    let version: ProtocolVersion
    /// The feature-flag cohorts this session is in (`GatedFeature.onBit`/`offBit`), each decided
    /// when it first asks for the feature; a byte beside `version`, in what was padding.
    private var cohorts: UInt8 = 0
    /// `--max-queue-bytes`, 32-bit so it sits beside `version` (every field costs memory on
    /// each of tens of thousands of sessions; the declaration order leaves no padding).
    private let maxQueueBytes: Int32
    // What `deliver` touches is held in strong `let`s: while a method runs, `self` keeps them
    // alive, so the optimizer uses them without retaining (an unowned(unsafe) load costs a
    // retain/release pair around every cross-module call). The cycle with the connection is
    // broken when the connection closes, which drops its session.
    private let connection: WebSocketConnection
    private let socket: StreamSocket
    private let metrics: GatewayMetrics
    /// The service and the context, reached through the endpoint: only cold paths use them.
    private let endpoint: MarketDataEndpoint
    /// Newest pending frame per symbol while conflating; nil when not conflating.
    private var conflated: [SymbolID: SharedBytes]?
    private var slowConsumerTimer: Timer?
    /// What the connection's token allows and when it expires; nil without token
    /// authentication. Held behind one reference: at 18,000 connections without tokens, the
    /// claims' 48 bytes inline would be paid by each for nothing.
    private let token: TokenBinding?

    private final class TokenBinding {
        let claims: AccessClaims
        var expiryTimer: Timer?

        init(claims: AccessClaims) { self.claims = claims }
    }

    private var claims: AccessClaims? { token?.claims }
    private var service: MarketDataService { endpoint.service }
    private var context: GatewayContext { endpoint.context }

    init(connection: WebSocketConnection, version: ProtocolVersion, endpoint: MarketDataEndpoint, claims: AccessClaims? = nil) {
        self.connection = connection
        token = claims.map(TokenBinding.init)
        self.version = version
        self.endpoint = endpoint
        let context = endpoint.context
        socket = connection.socket
        metrics = context.metrics
        maxQueueBytes = Int32(clamping: context.configuration.maxQueueBytes)
        super.init()
        metrics.connectionOpened(version: version)
        if let token, let expiresAt = token.claims.expiresAt {
            let remaining = Double(expiresAt) - Double(WallClock.microsecondsSinceEpoch()) / 1e6
            // Strong capture, cancelled at close (see slowConsumerTimer).
            token.expiryTimer = context.loop.schedule(after: ConnectionLimits.nanoseconds(remaining)) { self.tokenExpired() }
        }
    }

    private func tokenExpired() {
        token?.expiryTimer = nil
        guard connection.acceptsData else { return }
        metrics.tokenExpiryCloses &+= 1
        reply(.tokenExpired)
        connection.close(code: .policyViolation, reason: "token expired")
    }

    /// Whether updates are being conflated because the client is behind.
    var isConflating: Bool { conflated != nil }

    // MARK: Fan-out side

    override func deliver(_ frame: SharedBytes, symbol: SymbolID) {
        if conflated != nil {
            if conflated![symbol] != nil { metrics.conflatedUpdates &+= 1 }
            conflated![symbol] = frame
            return
        }
        guard connection.acceptsData else { return }
        socket.enqueue(frame)
        recordSent(frame)
        if socket.outboundBytes > Int(maxQueueBytes) { startConflating() }
    }

    /// Ends conflation: queues the newest pending frame of each symbol and stops the
    /// slow-consumer clock.
    private func stopConflating() {
        guard let pending = conflated else { return }
        conflated = nil
        socket.notifiesWrites = false
        slowConsumerTimer?.cancel()
        slowConsumerTimer = nil
        for (symbol, frame) in pending {
            let whole = whole(frame, of: symbol)
            connection.send(whole)
            recordSent(whole)
        }
    }

    /// Counts a market-data frame queued to the client, in its flags' cohorts too.
    @inline(__always)
    private func recordSent(_ frame: SharedBytes) {
        metrics.recordSent(version: version, bytes: frame.count)
        if cohorts != 0 { metrics.cohorts.recordSent(cohorts, bytes: frame.count) }
    }

    /// `frame`, or the symbol's whole state when `frame` is a delta: for a client that missed
    /// the updates before it. Cold path (after conflation).
    private func whole(_ frame: SharedBytes, of symbol: SymbolID) -> SharedBytes {
        guard let variant = subscriptionSlots[symbol]?.variant, variant.isDelta else { return frame }
        return service.snapshot(of: symbol, variant: variant) ?? frame
    }

    /// `alreadyFor`: nanoseconds the client has been behind elsewhere (a handover), which count
    /// towards the slow-consumer timeout.
    private func startConflating(alreadyFor: UInt64 = 0) {
        var pending: [SymbolID: SharedBytes] = [:]
        pending.reserveCapacity(subscriptionSlots.count)
        conflated = pending
        socket.notifiesWrites = true
        metrics.conflationEpisodes &+= 1
        let timeout = slowConsumerTimeout &- min(alreadyFor, slowConsumerTimeout)
        // Strong capture (the timer is cancelled at close): a weak reference would give this
        // object a refcount side table and slow every retain on the hot path.
        slowConsumerTimer = context.loop.schedule(after: timeout) { self.slowConsumerTimedOut() }
    }

    func connectionDidWrite(_ connection: WebSocketConnection) {
        guard conflated != nil, socket.outboundBytes <= Int(maxQueueBytes) / 2 else { return }
        stopConflating()
        if socket.outboundBytes > Int(maxQueueBytes) { startConflating() }
    }

    private var slowConsumerTimeout: UInt64 { ConnectionLimits.nanoseconds(context.configuration.slowConsumerTimeout) }

    private func slowConsumerTimedOut() {
        guard conflated != nil else { return }
        metrics.slowConsumerCloses &+= 1
        context.logger.notice("closing slow consumer", metadata: [
            "queued_bytes": "\(socket.outboundBytes)", "protocol": "\(version.rawValue)",
            "subscriptions": "\(subscriptionSlots.count)"])
        conflated = nil
        connection.close(code: .policyViolation, reason: "slow consumer")
    }

    // MARK: Client side

    func connection(_ connection: WebSocketConnection, didReceive opcode: Opcode, payload: UnsafeRawBufferPointer) {
        guard opcode == .text else {
            connection.close(code: .unsupportedData, reason: "binary messages are not supported on /ws")
            return
        }
        switch CommandDecoder.decode(payload, version: version) {
        case .failure(let error):
            reply(error)
        case .success(.subscribe(let names, let depth, let options)):
            subscribe(names, depth: depth, options: options)
        case .success(.unsubscribe(let names)):
            for name in names {
                if let symbol = service.symbols.id(of: name) {
                    service.registry.unsubscribe(self, from: symbol)
                    conflated?[symbol] = nil
                }
            }
            if version == .v2 { replyAck(subscribed: false, names, depth: nil) }
        case .success(.listSymbols):
            var served = service.servedSymbols
            if let claims, claims.symbols != nil { served = served.filter(claims.allows) }
            context.replies.send(on: connection) { ServerMessages.symbolList(served, to: &$0) }
        }
    }

    private func subscribe(_ names: [String], depth: Int, options: SubscribeOptions) {
        if let claims {
            let forbidden = names.filter { !claims.allows($0) }
            guard forbidden.isEmpty else {
                metrics.forbiddenSubscriptions &+= 1
                reply(.forbiddenSymbols(forbidden))
                return
            }
        }
        let newOnes = names.filter { name in service.symbols.id(of: name).map { subscriptionSlots[$0] == nil } ?? true }
        guard subscriptionSlots.count + newOnes.count <= service.limits.maxSubscriptions else {
            reply(.tooManySubscriptions(service.limits.maxSubscriptions))
            return
        }
        var ids: [SymbolID] = []
        for name in names {
            guard let id = service.symbolID(for: name) else {
                reply(CommandError("too_many_symbols", "the gateway tracks at most \(service.limits.maxSymbols) symbols"))
                return
            }
            ids.append(id)
        }
        let granted = grant(options)
        let plain: ProtocolVariant = version == .v1 ? .v1 : .v2(depth: depth, delta: granted.delta)
        let variant = connection.compression == nil ? plain : plain.compressed
        let unknown = names.filter { !service.hasData($0) }
        metrics.unknownSymbolSubscriptions &+= UInt64(unknown.count)
        subscriptionSlots.reserveCapacity(forAdditional: newOnes.count)
        for id in ids { service.registry.subscribe(self, to: id, variant: variant, maxRate: granted.maxRate) }
        if let rate = granted.maxRate { endpoint.rateCaps.ensure(rate) }
        if version == .v2 {
            context.replies.send(on: connection) {
                ServerMessages.ack(subscribed: true, symbols: names, depth: depth, options: granted, answersMore: options.asksForMore,
                                   epoch: service.epoch, unknown: unknown, to: &$0)
            }
        }
        // Snapshot: the latest known state of each, so nobody waits for the next tick.
        for id in ids {
            if let frame = service.snapshot(of: id, variant: variant) { deliver(frame, symbol: id) }
        }
    }

    // MARK: Feature flags

    /// Who this session is to feature flags: its token's `sub`, else the `?client=` id it
    /// connected with, else the connection itself (so not the same after a reconnect).
    private var user: String {
        claims?.subject ?? "connection-" + String(UInt(bitPattern: ObjectIdentifier(self).hashValue), radix: 16)
    }

    /// What of `options` the flags give this session's user now. The first time it asks for a
    /// feature, the session joins that flag's cohort ("on") or its control group ("off").
    private func grant(_ options: SubscribeOptions) -> SubscribeOptions {
        guard options.delta || options.maxRate != nil else { return options }
        let flags = context.flags
        let user = user
        var granted = options
        for feature in GatedFeature.allCases where feature == .deltaUpdates ? options.delta : options.maxRate != nil {
            let on = flags.isOn(feature, for: user)
            if !on {
                if feature == .deltaUpdates { granted.delta = false } else { granted.maxRate = nil }
            }
            guard cohorts & (feature.onBit | feature.offBit) == 0 else { continue }
            let bit = on ? feature.onBit : feature.offBit
            cohorts |= bit
            metrics.cohorts.forEach(in: bit) { $0.sessionsStarted &+= 1; $0.sessionsOpen += 1 }
            socket.latencyClass = cohorts
        }
        return granted
    }

    /// The flag of `feature` was killed: every subscription that has it loses it now (deltas
    /// become whole states, capped subscriptions uncapped). True when any had it.
    func lose(_ feature: GatedFeature) -> Bool {
        var changed = false
        for symbol in subscriptionSlots.symbols {
            guard let slot = subscriptionSlots[symbol] else { continue }
            let rate = service.registry.maxRate(of: self, symbol: symbol)
            switch feature {
            case .deltaUpdates where slot.variant.isDelta:
                service.registry.subscribe(self, to: symbol, variant: slot.variant.whole, maxRate: rate)
                // A delta waiting in conflation would no longer apply: the whole state instead.
                if conflated?[symbol] != nil, let whole = service.snapshot(of: symbol, variant: slot.variant.whole) { conflated![symbol] = whole }
                changed = true
            case .rateCaps where rate != nil:
                service.registry.subscribe(self, to: symbol, variant: slot.variant, maxRate: nil)
                changed = true
            default:
                break
            }
        }
        return changed
    }

    /// Refused for the message rate: the client is told once per run of refusals (each reply
    /// would be more output for a client that is already flooding us).
    func connectionRefusedMessageOverRate(_ connection: WebSocketConnection, first: Bool) {
        metrics.rateLimitedMessages &+= 1
        if first { reply(.rateLimited(context.configuration.messageRate ?? 0)) }
    }

    private func reply(_ error: CommandError) {
        context.replies.send(on: connection) { ServerMessages.error(error, to: &$0) }
        metrics.commandErrors &+= 1
        metrics.cohorts.forEach(in: cohorts) { $0.commandErrors &+= 1 }
    }

    private func replyAck(subscribed: Bool, _ names: [String], depth: Int?) {
        context.replies.send(on: connection) { ServerMessages.ack(subscribed: subscribed, symbols: names, depth: depth, to: &$0) }
    }

    /// v2's reconnect notice, queued behind everything already queued, before the Close.
    func connectionWillDrain(_ connection: WebSocketConnection, retryAfterMilliseconds: Int) {
        // A conflating client still gets the newest state of each symbol before the Close.
        stopConflating()
        guard version == .v2 else { return }
        context.replies.send(on: connection) {
            ServerMessages.reconnect(reason: "draining", retryAfterMilliseconds: retryAfterMilliseconds, to: &$0)
        }
    }

    // MARK: Handover

    /// The session's part of a live handover. The newest pending update of each conflated
    /// symbol joins the queue first, so it moves with the output; the slow-consumer clock
    /// moves too. The session stays subscribed until `finishHandover`.
    func prepareHandover() -> (subscriptions: [SessionHandover.Subscription], claims: AccessClaims?, conflatingFor: UInt64?) {
        var conflatingFor: UInt64?
        if conflated != nil {
            let left = slowConsumerTimer.map { $0.deadline > context.loop.now ? $0.deadline - context.loop.now : 0 } ?? 0
            conflatingFor = slowConsumerTimeout &- min(left, slowConsumerTimeout)
            stopConflating()
        }
        let subscriptions = subscriptionSlots.symbols.map { symbol in
            SessionHandover.Subscription(symbol: service.name(of: symbol), variant: subscriptionSlots[symbol]!.variant,
                                         maxRate: service.registry.maxRate(of: self, symbol: symbol))
        }
        return (subscriptions, claims, conflatingFor)
    }

    /// The connection went to another instance: the session ends here as if it had closed.
    func finishHandover() {
        connectionDidClose(connection, closeCode: nil, error: nil)
    }

    /// A session adopted from another instance takes up its subscriptions (no snapshots: the
    /// client has the state) and, if it was behind, its conflation and slow-consumer clock.
    /// False when they do not fit here (symbols or subscriptions over this instance's limits).
    func resume(subscriptions: [SessionHandover.Subscription], conflatingFor: UInt64?) -> Bool {
        guard subscriptions.count <= service.limits.maxSubscriptions else { return false }
        var resolved: [(SymbolID, ProtocolVariant)] = []
        for subscription in subscriptions {
            guard let id = service.symbolID(for: subscription.symbol) else { return false }
            // Compressed frames only where this instance compresses; plain ones are always valid.
            let variant = connection.compression != nil && context.configuration.deflate
                ? subscription.variant.compressed : subscription.variant.plain
            resolved.append((id, variant))
        }
        for (index, (id, variant)) in resolved.enumerated() {
            let rate = subscriptions[index].maxRate
            service.registry.subscribe(self, to: id, variant: variant, maxRate: rate)
            if let rate { endpoint.rateCaps.ensure(rate) }
        }
        if conflatingFor != nil || socket.outboundBytes > Int(maxQueueBytes) { startConflating(alreadyFor: conflatingFor ?? 0) }
        return true
    }

    func connectionDidClose(_ connection: WebSocketConnection, closeCode: CloseCode?, error: String?) {
        slowConsumerTimer?.cancel()
        token?.expiryTimer?.cancel()
        token?.expiryTimer = nil
        conflated = nil
        service.registry.unsubscribeAll(self)
        metrics.connectionClosed(version: version)
        let failed = closeCode.map { DeployFigures.failureCodes.contains($0.rawValue) } ?? false
        metrics.cohorts.forEach(in: cohorts) { counters in
            counters.sessionsOpen -= 1
            if failed { counters.failures &+= 1 }
        }
    }
}
