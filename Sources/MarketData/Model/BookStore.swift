/// The latest state and sequence number of every symbol, indexed by `SymbolID`.
///
/// Updates are applied in place so the levels array keeps its capacity: a steady stream of
/// updates allocates nothing here.
public struct BookStore {
    private var states: [BookState?] = []

    public init() {}

    /// The latest state, or nil when the symbol has had no update yet.
    public func state(of symbol: SymbolID) -> BookState? {
        Int(symbol) < states.count ? states[Int(symbol)] : nil
    }

    /// Applies an update written by `change` (which sets prices, levels and timestamp on the
    /// previous state, or on an empty one) and stamps the next sequence number, or `sequence`
    /// when the update comes numbered (from the bus).
    @discardableResult
    public mutating func update(_ symbol: SymbolID, sequence: UInt64? = nil, _ change: (inout BookState) -> Void) -> BookState {
        let slot = Int(symbol)
        if slot >= states.count { states.append(contentsOf: repeatElement(nil, count: slot + 1 - states.count)) }
        var state = states[slot].take() ?? BookState(last: .zero, bid: .zero, ask: .zero, levels: [], timestamp: 0)
        let seq = state.seq
        change(&state)
        state.seq = sequence ?? seq + 1
        states[slot] = state
        return state
    }

    /// Every symbol with a state, in id order (a handover carries them to the next process).
    public var all: [(SymbolID, BookState)] {
        states.indices.compactMap { index in states[index].map { (SymbolID(index), $0) } }
    }

    /// Forgets a symbol's state (it is no longer followed, so it would go stale).
    public mutating func remove(_ symbol: SymbolID) {
        if Int(symbol) < states.count { states[Int(symbol)] = nil }
    }
}
