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

/// One connection's subscriptions: a compact array of 8-byte entries rather than a
/// dictionary, because it is touched only on subscribe and unsubscribe, and at 18,000
/// connections every byte here is paid per subscription. The array grows by a few entries at a
/// time, not by doubling: a connection with 10 subscriptions holds 10 to 13 entries, not 16.
public struct SubscriptionSlots: Sendable {
    /// A group position takes 24 bits (16 million subscribers of one symbol and variant, far
    /// past any process's descriptor limit) and the variant the low 8.
    private struct Entry: Sendable {
        var symbol: SymbolID
        var positionAndVariant: UInt32

        init(symbol: SymbolID, slot: SubscriptionSlot) {
            precondition(slot.position < 1 << 24 && slot.variant.index < 1 << 8, "subscription slot out of range")
            self.symbol = symbol
            positionAndVariant = UInt32(slot.position) << 8 | UInt32(slot.variant.index)
        }

        var slot: SubscriptionSlot {
            SubscriptionSlot(variant: ProtocolVariant(index: Int(positionAndVariant & 0xFF)), position: Int(positionAndVariant >> 8))
        }
    }

    private var entries: [Entry] = []

    public init() {}

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }
    public var symbols: [SymbolID] { entries.map(\.symbol) }

    public subscript(symbol: SymbolID) -> SubscriptionSlot? {
        get {
            entries.first(where: { $0.symbol == symbol })?.slot
        }
        set {
            let index = entries.firstIndex(where: { $0.symbol == symbol })
            switch (index, newValue) {
            case (let index?, let slot?):
                entries[index] = Entry(symbol: symbol, slot: slot)
            case (nil, let slot?):
                if entries.count == entries.capacity { entries.reserveCapacity(entries.count + 1 + entries.count / 4) }
                entries.append(Entry(symbol: symbol, slot: slot))
            case (let index?, nil):
                entries.swapAt(index, entries.count - 1)
                entries.removeLast()
            case (nil, nil):
                break
            }
        }
    }

    /// Makes room for `count` more subscriptions at once (a subscribe message naming several
    /// symbols), so the array is allocated once at its exact size.
    public mutating func reserveCapacity(forAdditional count: Int) {
        if entries.count + count > entries.capacity { entries.reserveCapacity(entries.count + count) }
    }

    @discardableResult
    public mutating func removeValue(forKey symbol: SymbolID) -> SubscriptionSlot? {
        let slot = self[symbol]
        self[symbol] = nil
        return slot
    }
}
