/// Which symbols each connection subscribes to. Both layouts give every symbol the same number
/// of subscribers; they differ in how a connection's symbols sit in the simulator's round-robin.
///
/// - contiguous (W1): connection i takes symbols (i*S + k) mod N: its S symbols are neighbours,
///   so they tick together and one write can carry all of them.
/// - random (W2): the same slots, through a fixed random permutation of the symbols (seeded, so
///   every run and every tool sees the same layout): a connection's symbols are scattered over
///   the round-robin, nothing aligns with ticks, and any batching must come from the gateway.
struct SubscriptionLayout {
    enum Pattern: String, CaseIterable {
        case contiguous, random
    }

    let connections: Int
    let perConnection: Int
    let symbols: Int
    /// Slot position -> symbol number, and back; nil for the contiguous layout (identity).
    private let permutation: [Int]?
    private let inverse: [Int]?

    init(connections: Int, perConnection: Int, symbols: Int, pattern: Pattern, seed: UInt64) {
        self.connections = connections
        self.perConnection = perConnection
        self.symbols = symbols
        guard pattern == .random else {
            permutation = nil
            inverse = nil
            return
        }
        var order = Array(0..<symbols)
        var generator = SplitMix64(seed: seed)
        order.shuffle(using: &generator)
        var back = Array(repeating: 0, count: symbols)
        for (position, symbol) in order.enumerated() { back[symbol] = position }
        permutation = order
        inverse = back
    }

    /// Symbol number of subscription `slot` of connection `connection`.
    func symbol(connection: Int, slot: Int) -> Int {
        let position = (connection * perConnection + slot) % symbols
        return permutation?[position] ?? position
    }

    /// Which of `connection`'s subscriptions `symbol` is, or nil if it is not one of them.
    func slot(of symbol: Int, connection: Int) -> Int? {
        guard symbol >= 0 && symbol < symbols else { return nil }
        let position = inverse?[symbol] ?? symbol
        let slot = ((position - connection * perConnection) % symbols + symbols) % symbols
        return slot < perConnection ? slot : nil
    }
}

/// A small seeded generator (SplitMix64): the same layout from the same seed everywhere.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
