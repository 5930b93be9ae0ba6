import EventLoop
import MarketData
import NATS

/// One instance's end of the market bus: it follows the subjects of the symbols its clients
/// want (or all of them), applies each bus message with the `seq` it carries, and fetches a
/// symbol's last value from the stream when it starts following it, so a subscriber on a
/// brand-new instance gets a snapshot. Its `writer` is where this instance's publishers and
/// simulator send updates.
///
/// A bus message is `<prefix>.<SYMBOL>` with the symbol's whole state after the update (see
/// `UpdateEncoder.writeBusState`). What is not one is counted and dropped, never fanned out.
public final class MarketBus {
    public let settings: BusSettings
    public let client: NATSClient
    public let writer: BusWriter
    public private(set) var statistics = BusStatistics()
    /// Whether the stream exists (checked at each connect); why not, when it does not.
    public private(set) var streamProblem: String? = "not checked yet"
    /// What happened, for the log.
    public var onEvent: ((Event) -> Void)?

    public enum Event {
        case client(NATSClient.Event)
        case streamUnavailable(String)
        case streamReady(String)
        case snapshotFailed(symbol: String, reason: String)
    }

    private let loop: EventLoop
    private let service: MarketDataService
    private let stream: LastValueStream
    private var decoder = FeedDecoder(busMessages: true)
    /// Followed symbols and their subscription ids (interest mode).
    private var followed: [SymbolID: UInt64] = [:]
    /// Symbols whose last client left, still followed until their timer fires.
    private var lingering: [SymbolID: Timer] = [:]
    private var wildcard: UInt64?
    /// Symbols (all mode) that have had a client since the last connect: fetched once each.
    private var fetchedSinceConnect = Set<SymbolID>()
    private let prefixLength: Int
    private var symbolListTimer: Timer?
    private var streamRetryTimer: Timer?
    private var streamRetryDelay = firstStreamRetry
    static let firstStreamRetry: UInt64 = 1_000_000_000
    static let lastStreamRetry: UInt64 = 30_000_000_000
    static let symbolListInterval: UInt64 = 30_000_000_000

    public init(loop: EventLoop, service: MarketDataService, settings: BusSettings) {
        self.loop = loop
        self.service = service
        self.settings = settings
        client = NATSClient(loop: loop, settings: settings.clientSettings(name: settings.clientName))
        stream = LastValueStream(client: client, settings: settings)
        writer = BusWriter(loop: loop, service: service, client: client, stream: stream, settings: settings)
        prefixLength = settings.prefix.utf8.count + 1
    }

    /// Starts connecting and following.
    public func start() {
        client.onEvent = { [unowned self] event in self.clientEvent(event) }
        service.registry.onInterestChange = { [unowned self] symbol, interested in
            interested ? self.follow(symbol) : self.unfollowSoon(symbol)
        }
        if settings.following == .all {
            wildcard = client.subscribe(settings.prefix + ".>") { [unowned self] message in self.received(message) }
        } else {
            // Subscribers that came before the bus did (connections handed over at start).
            for symbol in 0..<SymbolID(service.symbols.count) where service.registry.subscriberCount(of: symbol) > 0 { follow(symbol) }
        }
        writer.start()
        client.start()
    }

    /// Stops reading the bus (at the end of a drain), flushing what the writer queued.
    public func stop() {
        symbolListTimer?.cancel()
        streamRetryTimer?.cancel()
        writer.stop()
        client.stop()
        for (_, timer) in lingering { timer.cancel() }
        lingering.removeAll()
    }

    /// Ready when connected (subscriptions are restored within the handshake, before that).
    public var isConnected: Bool { client.status == .connected }

    /// Subjects subscribed to: followed symbols, or the one wildcard.
    public var subscriptionCount: Int { followed.count + (wildcard == nil ? 0 : 1) }

    // MARK: Following

    private func follow(_ symbol: SymbolID) {
        if let timer = lingering.removeValue(forKey: symbol) {
            timer.cancel()
            return  // still followed, state current
        }
        if settings.following == .all {
            // Everything arrives anyway; a symbol quiet since we connected needs its last value.
            if service.store.state(of: symbol) == nil, fetchedSinceConnect.insert(symbol).inserted { fetchSnapshot(symbol) }
            return
        }
        guard followed[symbol] == nil else { return }
        let name = service.name(of: symbol)
        followed[symbol] = client.subscribe(settings.subject(of: name)) { [unowned self] message in self.received(message) }
        fetchSnapshot(symbol)
    }

    private func unfollowSoon(_ symbol: SymbolID) {
        guard settings.following == .interest, followed[symbol] != nil, lingering[symbol] == nil else { return }
        lingering[symbol] = loop.schedule(after: settings.linger) { [unowned self] in
            self.lingering[symbol] = nil
            guard self.service.registry.subscriberCount(of: symbol) == 0, let sid = self.followed.removeValue(forKey: symbol) else { return }
            self.client.unsubscribe(sid)
            // Not followed any more: its state would go stale. The next subscriber gets a fresh one.
            self.service.forget(symbol)
        }
    }

    private func fetchSnapshot(_ symbol: SymbolID) {
        guard client.status == .connected, streamProblem == nil else { return }  // done at (re)connect
        let name = service.name(of: symbol)
        stream.fetchLast(name) { [unowned self] fetched in
            switch fetched {
            case .found(let update):
                statistics.snapshotsFetched &+= 1
                apply(update, symbol: symbol, receivedAt: WallClock.microsecondsSinceEpoch(), isSnapshot: true)
            case .absent:
                statistics.snapshotsAbsent &+= 1
            case .unreadable:
                statistics.snapshotFailures &+= 1
                onEvent?(.snapshotFailed(symbol: name, reason: "the stream's last message is not a bus message"))
            case .failed(let reason):
                statistics.snapshotFailures &+= 1
                onEvent?(.snapshotFailed(symbol: name, reason: reason))
            }
        }
    }

    private func clientEvent(_ event: NATSClient.Event) {
        onEvent?(.client(event))
        switch event {
        case .connected:
            streamRetryTimer?.cancel()
            streamRetryDelay = Self.firstStreamRetry
            checkStream()
        case .moved:
            // Make before break: the new server delivers from now on; what it has as last
            // values is applied only where newer (duplicates by `seq` are dropped).
            if streamProblem == nil { refetchAll() }
        case .disconnected, .connectFailed:
            streamRetryTimer?.cancel()
            streamProblem = "not connected"
        case .serverError, .lameDuck, .discovered, .moveFailed:
            break
        }
    }

    /// Checks (or creates) the stream, then fetches every followed symbol's last value. While
    /// the stream cannot be used (a cluster still electing its JetStream leaders after a
    /// restart), the check is repeated with a growing delay, so snapshots come back without a
    /// reconnect.
    private func checkStream() {
        streamProblem = "being checked"
        stream.ensure { [unowned self] result in
            guard self.client.status == .connected else { return }
            var problem: String?
            switch result {
            case .failure(let why): problem = why.description
            case .success(let created):
                // The stream is the sequence space: every instance it feeds shares its epoch.
                if let created { self.service.epoch = MarketEpoch.derived(from: self.settings.stream + " " + created) }
            }
            self.streamProblem = problem
            if let problem {
                self.onEvent?(.streamUnavailable(problem))
                self.streamRetryTimer = self.loop.schedule(after: self.streamRetryDelay) { [unowned self] in
                    if self.client.status == .connected { self.checkStream() }
                }
                self.streamRetryDelay = min(self.streamRetryDelay * 2, Self.lastStreamRetry)
            } else {
                self.onEvent?(.streamReady(self.settings.stream))
                self.refetchAll()
                self.refreshFleetSymbols()
            }
            self.writer.busConnected(streamAvailable: problem == nil)
        }
    }

    /// Learns which symbols the fleet serves (for `list_symbols` on an instance that follows
    /// few of them), now and every `symbolListInterval` while connected.
    private func refreshFleetSymbols() {
        stream.listSymbols { [unowned self] names in
            if let names { self.service.fleetSymbols = names }
        }
        symbolListTimer?.cancel()
        symbolListTimer = loop.schedule(after: Self.symbolListInterval) { [unowned self] in
            if self.client.status == .connected { self.refreshFleetSymbols() }
        }
    }

    /// After a (re)connect: what was followed may have moved on while we were away. Each
    /// fetched value is applied only if newer, so clients see the jump as a `seq` gap.
    private func refetchAll() {
        fetchedSinceConnect.removeAll()
        if settings.following == .interest {
            for symbol in followed.keys.sorted() { fetchSnapshot(symbol) }
        } else {
            for symbol in 0..<SymbolID(service.symbols.count) where service.registry.subscriberCount(of: symbol) > 0 {
                fetchedSinceConnect.insert(symbol)
                fetchSnapshot(symbol)
            }
        }
    }

    // MARK: Receiving

    private func received(_ message: NATSMessage) {
        let receivedAt = WallClock.microsecondsSinceEpoch()
        let subject = message.subject
        guard subject.count > prefixLength, SymbolSyntax.isValid(UnsafeRawBufferPointer(rebasing: subject[prefixLength...])) else {
            statistics.malformed &+= 1
            return
        }
        let name = String(decoding: subject[prefixLength...], as: UTF8.self)
        let symbol: SymbolID
        if settings.following == .all {
            guard let id = service.symbolID(for: name) else {
                statistics.overSymbolLimit &+= 1
                return
            }
            symbol = id
        } else {
            // A message for a symbol just unfollowed can still be in flight: not ours any more.
            guard let id = service.symbols.id(of: name), followed[id] != nil else { return }
            symbol = id
        }
        // One object per message (a batch is a publisher's affair, not the bus's).
        guard let update = decoder.decodeBusMessage(message.payload), update.symbol == name else {
            statistics.malformed &+= 1
            return
        }
        apply(update, symbol: symbol, receivedAt: receivedAt, isSnapshot: false)
    }

    private func apply(_ update: FeedUpdate, symbol: SymbolID, receivedAt: Int64, isSnapshot: Bool) {
        switch service.applyFromBus(update, symbol: symbol, receivedAt: receivedAt, now: loop.now) {
        case .stale:
            statistics.stale &+= 1
        case .applied(let missed):
            statistics.applied &+= 1
            statistics.missedUpdates &+= missed
            if !isSnapshot, let ts = update.timestamp {
                let lagMicroseconds: Int64 = receivedAt > ts ? receivedAt - ts : 0
                statistics.feedLag.record(UInt64(lagMicroseconds) * 1000)
            }
            writer.observe(symbol, sequence: update.sequence ?? 0)
        }
    }
}
