/// Where a subscriber sits in a symbol's groups.
public struct SubscriptionSlot: Equatable, Sendable {
    public let variant: ProtocolVariant
    /// Position in the group's array, for O(1) removal.
    public var position: Int
    /// In one of the symbol's rate-capped groups (`SubscriptionRegistry`), not a per-update one.
    public let capped: Bool

    public init(variant: ProtocolVariant, position: Int, capped: Bool = false) {
        self.variant = variant
        self.position = position
        self.capped = capped
    }
}

/// One connection's subscriptions: a compact list of 8-byte entries rather than a
/// dictionary, because it is touched only on subscribe and unsubscribe, and at 18,000
/// connections every byte here is paid per subscription.
///
/// One allocation holds the count, the capacity and the entries (a Swift array would add a
/// 32-byte header), and it grows by a few entries at a time, not by doubling: a connection with
/// 10 subscriptions holds exactly 10 entries in 88 bytes. Not copyable: it owns that memory.
public struct SubscriptionSlots: ~Copyable {
    /// A group position takes 23 bits (8 million subscribers of one symbol and variant, far
    /// past any process's descriptor limit), whether it is capped 1, and the variant the low 8.
    private struct Entry {
        var symbol: SymbolID
        var packed: UInt32

        init(symbol: SymbolID, slot: SubscriptionSlot) {
            precondition(slot.position < 1 << 23 && slot.variant.index < 1 << 8, "subscription slot out of range")
            self.symbol = symbol
            packed = UInt32(slot.position) << 9 | (slot.capped ? 1 << 8 : 0) | UInt32(slot.variant.index)
        }

        var slot: SubscriptionSlot {
            SubscriptionSlot(variant: ProtocolVariant(index: Int(packed & 0xFF)), position: Int(packed >> 9), capped: packed & (1 << 8) != 0)
        }
    }

    /// Count and capacity (two UInt32s), then the entries; nil while there are none.
    private var storage: UnsafeMutableRawPointer?
    private static let headerBytes = 8

    public init() {}

    deinit { storage?.deallocate() }

    public var count: Int { storage.map { Int($0.load(as: UInt32.self)) } ?? 0 }
    private var capacity: Int { storage.map { Int($0.load(fromByteOffset: 4, as: UInt32.self)) } ?? 0 }
    public var isEmpty: Bool { count == 0 }

    private var entries: UnsafeMutablePointer<Entry>? {
        storage.map { ($0 + Self.headerBytes).assumingMemoryBound(to: Entry.self) }
    }

    public var symbols: [SymbolID] {
        guard let entries else { return [] }
        return (0..<count).map { entries[$0].symbol }
    }

    private func index(of symbol: SymbolID) -> Int? {
        guard let entries else { return nil }
        return (0..<count).first { entries[$0].symbol == symbol }
    }

    public subscript(symbol: SymbolID) -> SubscriptionSlot? {
        get {
            index(of: symbol).map { entries![$0].slot }
        }
        set {
            switch (index(of: symbol), newValue) {
            case (let index?, let slot?):
                entries![index] = Entry(symbol: symbol, slot: slot)
            case (nil, let slot?):
                let count = self.count
                if count == capacity { resize(to: count + 1 + count / 4) }
                entries![count] = Entry(symbol: symbol, slot: slot)
                setCount(count + 1)
            case (let index?, nil):
                let last = count - 1
                entries![index] = entries![last]
                setCount(last)
            case (nil, nil):
                break
            }
        }
    }

    /// Makes room for `count` more subscriptions at once (a subscribe message naming several
    /// symbols), so the list is allocated once at its exact size.
    public mutating func reserveCapacity(forAdditional count: Int) {
        if self.count + count > capacity { resize(to: self.count + count) }
    }

    @discardableResult
    public mutating func removeValue(forKey symbol: SymbolID) -> SubscriptionSlot? {
        let slot = self[symbol]
        self[symbol] = nil
        return slot
    }

    private mutating func setCount(_ count: Int) {
        storage!.storeBytes(of: UInt32(count), as: UInt32.self)
    }

    private mutating func resize(to newCapacity: Int) {
        precondition(newCapacity <= Int(UInt32.max), "too many subscriptions")
        let count = self.count
        let grown = UnsafeMutableRawPointer.allocate(byteCount: Self.headerBytes + newCapacity * MemoryLayout<Entry>.stride,
                                                     alignment: MemoryLayout<UInt32>.alignment)
        grown.storeBytes(of: UInt32(count), as: UInt32.self)
        grown.storeBytes(of: UInt32(newCapacity), toByteOffset: 4, as: UInt32.self)
        let newEntries = (grown + Self.headerBytes).bindMemory(to: Entry.self, capacity: newCapacity)
        if let entries { newEntries.initialize(from: entries, count: count) }
        storage?.deallocate()
        storage = grown
    }
}
