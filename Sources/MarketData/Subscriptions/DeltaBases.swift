/// Per symbol, the state its in-step delta subscribers hold: a copy of the last state fanned
/// out, kept while the symbol has delta subscribers. Copied field by field into storage of its
/// own, so the store's book is never shared (its in-place updates would then copy it) and a
/// steady stream allocates nothing.
struct DeltaBases {
    private var states: [BookState?] = []

    /// The last state fanned out of `symbol`, if every update since reached its delta
    /// subscribers.
    func base(of symbol: SymbolID) -> BookState? {
        Int(symbol) < states.count ? states[Int(symbol)] : nil
    }

    mutating func record(_ symbol: SymbolID, _ state: BookState) {
        let index = Int(symbol)
        if index >= states.count { states.append(contentsOf: repeatElement(nil, count: index + 1 - states.count)) }
        if states[index] == nil {
            var levels: [BookLevel] = []
            levels.reserveCapacity(BookState.maxLevels)
            states[index] = BookState(last: .zero, bid: .zero, ask: .zero, levels: levels, timestamp: 0)
        }
        states[index]!.last = state.last
        states[index]!.bid = state.bid
        states[index]!.ask = state.ask
        states[index]!.seq = state.seq
        states[index]!.timestamp = state.timestamp
        let count = states[index]!.levels.count
        if count > state.levels.count { states[index]!.levels.removeLast(count - state.levels.count) }
        for level in state.levels.indices {
            if level < count { states[index]!.levels[level] = state.levels[level] } else { states[index]!.levels.append(state.levels[level]) }
        }
    }

    /// The symbol's base is no longer what subscribers hold (no delta subscriber saw an update,
    /// or its state was replaced without one).
    mutating func forget(_ symbol: SymbolID) {
        if Int(symbol) < states.count, states[Int(symbol)] != nil { states[Int(symbol)] = nil }
    }
}
