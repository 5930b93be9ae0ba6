import ByteBuffers
import EventLoop
import MarketData

/// The market-data core of one gateway: symbol table, latest books, subscriptions and
/// fan-out, fed by the simulator and by publishers on /feed. Lives on the loop thread.
final class MarketDataService {
    private(set) var symbols = SymbolTable()
    private(set) var store = BookStore()
    let registry = SubscriptionRegistry()
    let fanOut: FanOut
    let limits: (maxSubscriptions: Int, maxSymbols: Int)
    private let metrics: GatewayMetrics

    /// Updates received, by source.
    var updatesFromSimulator: UInt64 = 0
    var updatesFromFeed: UInt64 = 0
    /// Monotonic time of the last update from /feed, for readiness.
    private(set) var lastFeedUpdate: UInt64?
    /// One writer for every control reply (acks, errors, notices): they are copied into the
    /// connection's output at once, so no connection needs a buffer of its own.
    private var replyWriter = ByteWriter(capacity: 1024)

    /// Encodes a text message with `write` and queues it on `connection` alone.
    func sendText(on connection: ClientConnection, _ write: (inout ByteWriter) -> Void) {
        replyWriter.reset()
        write(&replyWriter)
        connection.sendFrame(opcode: .text, payload: replyWriter.bytes)
    }

    init(configuration: GatewayConfiguration, metrics: GatewayMetrics) {
        fanOut = FanOut(registry: registry)
        limits = (configuration.maxSubscriptions, configuration.maxSymbols)
        self.metrics = metrics
    }

    /// The id of a syntactically valid symbol, registering it if there is room.
    func symbolID(for name: String) -> SymbolID? {
        if let id = symbols.id(of: name) { return id }
        guard symbols.count < limits.maxSymbols else { return nil }
        return symbols.intern(name)
    }

    func name(of symbol: SymbolID) -> String { symbols.name(of: symbol) }

    /// The current state of `symbol` framed for `variant`, for a snapshot on subscribe.
    func snapshot(of symbol: SymbolID, variant: ProtocolVariant) -> SharedBytes? {
        guard let state = store.state(of: symbol) else { return nil }
        return fanOut.encode(name: symbols.name(of: symbol), state: state, variant: variant)
    }

    /// One simulator step, published.
    func stepSimulator(_ market: inout SimulatedMarket, timestamp: Int64) {
        let (symbol, name, state) = market.step(store: &store, timestamp: timestamp)
        updatesFromSimulator &+= 1
        fanOut.publish(symbol: symbol, name: name, state: state)
    }

    /// Applies a publisher's update and publishes it. False when the symbol table is full.
    func apply(_ update: FeedUpdate, receivedAt timestamp: Int64, now: UInt64) -> Bool {
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
