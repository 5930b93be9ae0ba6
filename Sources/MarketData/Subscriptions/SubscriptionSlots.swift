/// Where a subscriber sits in a symbol's groups.
public struct SubscriptionSlot: Equatable, Sendable {
    public let variant: ProtocolVariant
    /// Position in the group's array, for O(1) removal.
    public var position: Int

    public init(variant: ProtocolVariant, position: Int) {
        self.variant = variant
        self.position = position
    }
}

/// One connection's subscriptions: a compact array of 12-byte entries rather than a
/// dictionary, because it is touched only on subscribe and unsubscribe, and at 18,000
/// connections a dictionary's buckets would cost ~300 bytes more per connection.
public struct SubscriptionSlots: Sendable {
    private struct Entry: Sendable {
        var symbol: SymbolID
        var position: UInt32
        var variant: UInt8
    }

    private var entries: [Entry] = []

    public init() {}

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }
    public var symbols: [SymbolID] { entries.map(\.symbol) }

    public subscript(symbol: SymbolID) -> SubscriptionSlot? {
        get {
            guard let entry = entries.first(where: { $0.symbol == symbol }) else { return nil }
            return SubscriptionSlot(variant: ProtocolVariant(index: Int(entry.variant)), position: Int(entry.position))
        }
        set {
            let index = entries.firstIndex(where: { $0.symbol == symbol })
            switch (index, newValue) {
            case (let index?, let slot?):
                entries[index] = Entry(symbol: symbol, position: UInt32(slot.position), variant: UInt8(slot.variant.index))
            case (nil, let slot?):
                entries.append(Entry(symbol: symbol, position: UInt32(slot.position), variant: UInt8(slot.variant.index)))
            case (let index?, nil):
                entries.swapAt(index, entries.count - 1)
                entries.removeLast()
            case (nil, nil):
                break
            }
        }
    }

    @discardableResult
    public mutating func removeValue(forKey symbol: SymbolID) -> SubscriptionSlot? {
        let slot = self[symbol]
        self[symbol] = nil
        return slot
    }
}
