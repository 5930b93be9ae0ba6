import ByteBuffers

/// Where publishers' updates go: applied here (one gateway alone), or published into the bus
/// (a fleet), which numbers them and brings them back to every instance.
public protocol FeedIngest: AnyObject {
    /// Takes a publisher's update. False when the symbol table is full. `timestamp` stands in
    /// for a missing `ts`; `now` is the caller's monotonic clock.
    func ingest(_ update: FeedUpdate, receivedAt timestamp: Int64, now: UInt64) -> Bool
}

/// What became of a numbered update from the bus.
public enum BusDelivery: Equatable, Sendable {
    /// Applied and fanned out; `missed` updates of the symbol never arrived before it (a true
    /// gap: lost in a reconnect, or the first message after a fetch).
    case applied(missed: UInt64)
    /// Not newer than the state held (a late snapshot reply, a duplicate): dropped.
    case stale
}

/// The market-data core of one gateway: the symbol table, the latest book per symbol, the
/// subscriptions and the fan-out, fed by the simulator and by publishers. Pure: updates in,
/// frames handed to subscribers out; the caller supplies the time. The gateway and the
/// in-process fan-out benchmark both run on it, so they measure the same wiring.
public final class MarketDataService: FeedIngest {
    public private(set) var symbols = SymbolTable()
    public private(set) var store = BookStore()
    public let registry = SubscriptionRegistry()
    public let fanOut: FanOut
    public let limits: (maxSubscriptions: Int, maxSymbols: Int)
    /// The sequence space every symbol's `seq` counts in (see `MarketEpoch`): random for a new
    /// process, handed over with the market, derived from the stream on a bus.
    public var epoch = MarketEpoch.random()

    /// Updates received, by source.
    public private(set) var updatesFromSimulator: UInt64 = 0
    public private(set) var updatesFromFeed: UInt64 = 0
    public private(set) var updatesFromBus: UInt64 = 0
    /// Monotonic time of the last update from a publisher, for readiness.
    public private(set) var lastFeedUpdate: UInt64?
    /// Symbols the simulator serves, known before its first step.
    private var simulated = Set<SymbolID>()

    public init(maxSubscriptions: Int, maxSymbols: Int) {
        fanOut = FanOut(registry: registry)
        limits = (maxSubscriptions, maxSymbols)
    }

    /// The id of a syntactically valid symbol, registering it if there is room.
    public func symbolID(for name: String) -> SymbolID? {
        if let id = symbols.id(of: name) { return id }
        guard symbols.count < limits.maxSymbols else { return nil }
        return symbols.intern(name)
    }

    public func name(of symbol: SymbolID) -> String { symbols.name(of: symbol) }

    /// Symbols with data to send, sorted: the simulator's, every symbol a publisher has
    /// updated, and (with a bus) every symbol the fleet's stream holds. (A symbol only
    /// subscribed to, with no data, is not served.) Cold path: for `GET /symbols` and v2's
    /// `list_symbols`.
    public var servedSymbols: [String] {
        let here = (0..<symbols.count).compactMap { index -> String? in
            let id = SymbolID(index)
            return simulated.contains(id) || store.state(of: id) != nil ? symbols.name(of: id) : nil
        }
        return Set(here).union(fleetSymbols).sorted()
    }

    /// Whether anyone publishes `name` now: this instance has its state or simulates it, or the
    /// fleet's stream has it. Cold path (a subscribe).
    public func hasData(_ name: String) -> Bool {
        if let id = symbols.id(of: name), simulated.contains(id) || store.state(of: id) != nil { return true }
        return fleetSymbols.contains(name)
    }

    /// Symbols the bus's stream has data for, learnt at each connect and refreshed: what any
    /// instance of the fleet serves, even those no client of this one follows yet. Not interned
    /// (the symbol table is bounded by what clients here make it remember).
    public var fleetSymbols: [String] = []

    /// A simulated market over `names` (registered here), each starting at its usual price.
    /// The caller makes sure they fit within `maxSymbols`.
    public func simulatedMarket(symbols names: [String]) -> SimulatedMarket {
        let instruments = names.enumerated().map { index, name in
            (id: symbolID(for: name)!, name: name, price: SimulatedMarket.startingPrice(for: name, index: index))
        }
        simulated.formUnion(instruments.map(\.id))
        return SimulatedMarket(symbols: instruments)
    }

    /// The current state of `symbol` framed for `variant`, whole: a snapshot on subscribe, or
    /// what a delta subscriber out of step gets.
    public func snapshot(of symbol: SymbolID, variant: ProtocolVariant) -> SharedBytes? {
        guard let state = store.state(of: symbol) else { return nil }
        if variant.isDelta { fanOut.sentWhole(symbol, state: state) }
        return fanOut.encode(name: symbols.name(of: symbol), state: state, variant: variant)
    }

    /// A tick of the `perSecond` rate cap (the caller keeps one clock per rate in use, see
    /// `SubscriptionRegistry.cappedSubscriptions`).
    public func publishCapped(perSecond: Int) {
        fanOut.publishCapped(perSecond: perSecond) { symbol in
            store.state(of: symbol).map { (symbols.name(of: symbol), $0) }
        }
    }

    /// One simulator step, published.
    public func stepSimulator(_ market: inout SimulatedMarket, timestamp: Int64) {
        let (symbol, name, state) = market.step(store: &store, timestamp: timestamp)
        updatesFromSimulator &+= 1
        fanOut.publish(symbol: symbol, name: name, state: state)
    }

    /// Applies a publisher's update here and publishes it (no bus).
    public func ingest(_ update: FeedUpdate, receivedAt timestamp: Int64, now: UInt64) -> Bool {
        apply(update, receivedAt: timestamp, now: now)
    }

    /// Applies a numbered update from the bus, the symbol's whole state, unless it is not newer
    /// than what is held; fans it out with its own `seq`, so every instance sends the same.
    public func applyFromBus(_ update: FeedUpdate, symbol: SymbolID, receivedAt timestamp: Int64, now: UInt64) -> BusDelivery {
        guard let sequence = update.sequence else { return .stale }
        let held = store.state(of: symbol)?.seq ?? 0
        guard sequence > held else { return .stale }
        let state = store.update(symbol, sequence: sequence) { $0.merge(update, receivedAt: timestamp) }
        updatesFromBus &+= 1
        lastFeedUpdate = now
        fanOut.publish(symbol: symbol, name: update.symbol, state: state)
        return .applied(missed: held == 0 ? 0 : sequence - held - 1)
    }

    /// Takes a symbol's state as another process held it (a live handover), `seq` included, so
    /// the next update continues the sequence. Not fanned out: its subscribers have it already.
    /// Ignored unless newer than what is held; false when the symbol table is full.
    @discardableResult
    public func restore(_ name: String, state: BookState) -> Bool {
        guard let symbol = symbolID(for: name) else { return false }
        guard state.seq > store.state(of: symbol)?.seq ?? 0 else { return true }
        store.update(symbol, sequence: state.seq) { $0 = state }
        fanOut.stateReplaced(symbol)
        return true
    }

    /// Forgets a symbol's state: an instance that stops following it on the bus would serve it
    /// stale. Its next subscriber waits for a fresh snapshot instead.
    public func forget(_ symbol: SymbolID) {
        store.remove(symbol)
        fanOut.stateReplaced(symbol)
    }

    /// Applies a publisher's update and publishes it. False when the symbol table is full.
    /// `timestamp` stands in for a missing `ts`; `now` is the caller's monotonic clock.
    public func apply(_ update: FeedUpdate, receivedAt timestamp: Int64, now: UInt64) -> Bool {
        guard let symbol = symbolID(for: update.symbol) else { return false }
        let state = store.update(symbol) { $0.merge(update, receivedAt: timestamp) }
        updatesFromFeed &+= 1
        lastFeedUpdate = now
        fanOut.publish(symbol: symbol, name: update.symbol, state: state)
        return true
    }
}
