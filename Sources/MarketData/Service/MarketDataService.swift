import ByteBuffers

/// The market-data core of one gateway: the symbol table, the latest book per symbol, the
/// subscriptions and the fan-out, fed by the simulator and by publishers. Pure: updates in,
/// frames handed to subscribers out; the caller supplies the time. The gateway and the
/// in-process fan-out benchmark both run on it, so they measure the same wiring.
public final class MarketDataService {
    public private(set) var symbols = SymbolTable()
    public private(set) var store = BookStore()
    public let registry = SubscriptionRegistry()
    public let fanOut: FanOut
    public let limits: (maxSubscriptions: Int, maxSymbols: Int)

    /// Updates received, by source.
    public private(set) var updatesFromSimulator: UInt64 = 0
    public private(set) var updatesFromFeed: UInt64 = 0
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

    /// Symbols with data to send, sorted: the simulator's, and every symbol a publisher has
    /// updated. (A symbol only subscribed to, with no data, is not served.) Cold path: for
    /// `GET /symbols` and v2's `list_symbols`.
    public var servedSymbols: [String] {
        (0..<symbols.count).compactMap { index -> String? in
            let id = SymbolID(index)
            return simulated.contains(id) || store.state(of: id) != nil ? symbols.name(of: id) : nil
        }.sorted()
    }

    /// A simulated market over `names` (registered here), each starting at its usual price.
    /// The caller makes sure they fit within `maxSymbols`.
    public func simulatedMarket(symbols names: [String]) -> SimulatedMarket {
        let instruments = names.enumerated().map { index, name in
            (id: symbolID(for: name)!, name: name, price: SimulatedMarket.startingPrice(for: name, index: index))
        }
        simulated.formUnion(instruments.map(\.id))
        return SimulatedMarket(symbols: instruments)
    }

    /// The current state of `symbol` framed for `variant`, for a snapshot on subscribe.
    public func snapshot(of symbol: SymbolID, variant: ProtocolVariant) -> SharedBytes? {
        guard let state = store.state(of: symbol) else { return nil }
        return fanOut.encode(name: symbols.name(of: symbol), state: state, variant: variant)
    }

    /// One simulator step, published.
    public func stepSimulator(_ market: inout SimulatedMarket, timestamp: Int64) {
        let (symbol, name, state) = market.step(store: &store, timestamp: timestamp)
        updatesFromSimulator &+= 1
        fanOut.publish(symbol: symbol, name: name, state: state)
    }

    /// Applies a publisher's update and publishes it. False when the symbol table is full.
    /// `timestamp` stands in for a missing `ts`; `now` is the caller's monotonic clock.
    public func apply(_ update: FeedUpdate, receivedAt timestamp: Int64, now: UInt64) -> Bool {
        guard let symbol = symbolID(for: update.symbol) else { return false }
        let state = store.update(symbol) { state in
            state.last = update.last
            state.bid = update.bid
            state.ask = update.ask
            if update.hasBook {
                state.levels.removeAll(keepingCapacity: true)
                state.levels.append(contentsOf: update.book)
            }
            state.timestamp = update.timestamp ?? timestamp
        }
        updatesFromFeed &+= 1
        lastFeedUpdate = now
        fanOut.publish(symbol: symbol, name: update.symbol, state: state)
        return true
    }
}
