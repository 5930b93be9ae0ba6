import ByteBuffers

/// A connection that receives updates. The registry keeps, per symbol, one group of
/// subscribers per protocol variant; fan-out hands each group the same frame.
///
/// A base class rather than a protocol: groups hold 8-byte references instead of 16-byte
/// existentials, and `deliver` is a vtable call on the hot path.
open class Subscriber {
    /// This subscriber's place in each symbol's group, kept by the registry.
    public var subscriptionSlots = SubscriptionSlots()

    public init() {}

    /// A frame for `symbol` in this subscriber's variant. Called during fan-out: queue the
    /// reference, don't copy.
    open func deliver(_ frame: SharedBytes, symbol: SymbolID) {}
}

/// Who is subscribed to what, grouped for encode-once fan-out.
///
/// Subscribers are held unretained, so fan-out pays no reference counting per subscriber:
/// a subscriber must call `unsubscribeAll` before it goes away (a session does so when its
/// connection closes).
public final class SubscriptionRegistry {
    /// One symbol's subscribers, by variant.
    struct SymbolGroups {
        var groups: [[Unmanaged<Subscriber>]] = Array(repeating: [], count: ProtocolVariant.count)
        /// Variants whose group is not empty, so fan-out visits only those; in index order, so
        /// a compressed variant follows its plain one.
        var activeVariants: [Int] = []
        var total = 0
    }

    private var symbols: [SymbolGroups?] = []
    /// Subscriptions over all symbols and connections.
    public private(set) var totalSubscriptions = 0

    /// Called when a symbol gets its first subscriber (true) and loses its last (false): what
    /// the market bus follows. Subscribe/unsubscribe are cold paths, so a closure costs nothing.
    public var onInterestChange: ((SymbolID, Bool) -> Void)?

    public init() {}

    /// Subscribes (or moves to another variant). Returns false when it was already there.
    @discardableResult
    public func subscribe(_ subscriber: Subscriber, to symbol: SymbolID, variant: ProtocolVariant) -> Bool {
        if let slot = subscriber.subscriptionSlots[symbol] {
            if slot.variant == variant { return false }
            unsubscribe(subscriber, from: symbol)
        }
        let index = Int(symbol)
        if index >= symbols.count { symbols.append(contentsOf: repeatElement(nil, count: index + 1 - symbols.count)) }
        var entry = symbols[index].take() ?? SymbolGroups()
        if entry.groups[variant.index].isEmpty {
            let position = entry.activeVariants.firstIndex(where: { $0 > variant.index }) ?? entry.activeVariants.endIndex
            entry.activeVariants.insert(variant.index, at: position)
        }
        subscriber.subscriptionSlots[symbol] = SubscriptionSlot(variant: variant, position: entry.groups[variant.index].count)
        let group = variant.index
        // Grown by an eighth, not doubled: the groups hold every subscription of every
        // connection, and doubling leaves a quarter of them empty on average.
        let count = entry.groups[group].count
        if count == entry.groups[group].capacity { entry.groups[group].reserveCapacity(count + 4 + count / 8) }
        entry.groups[group].append(Unmanaged.passUnretained(subscriber))
        entry.total += 1
        symbols[index] = entry
        totalSubscriptions += 1
        if entry.total == 1 { onInterestChange?(symbol, true) }
        return true
    }

    /// Unsubscribes; returns false when it was not subscribed.
    @discardableResult
    public func unsubscribe(_ subscriber: Subscriber, from symbol: SymbolID) -> Bool {
        guard let slot = subscriber.subscriptionSlots.removeValue(forKey: symbol),
              var entry = symbols[Int(symbol)].take() else { return false }
        let v = slot.variant.index
        let last = entry.groups[v].count - 1
        if slot.position != last {
            // Swap-remove, in place: the last member takes the freed place.
            let moved = entry.groups[v][last]
            entry.groups[v][slot.position] = moved
            moved.takeUnretainedValue().subscriptionSlots[symbol]?.position = slot.position
        }
        entry.groups[v].removeLast()
        if entry.groups[v].isEmpty { entry.activeVariants.removeAll { $0 == v } }
        entry.total -= 1
        symbols[Int(symbol)] = entry.total == 0 ? nil : entry
        totalSubscriptions -= 1
        if entry.total == 0 { onInterestChange?(symbol, false) }
        return true
    }

    /// Removes every subscription of a departing connection.
    public func unsubscribeAll(_ subscriber: Subscriber) {
        for symbol in subscriber.subscriptionSlots.symbols { unsubscribe(subscriber, from: symbol) }
    }

    /// Calls `body` once per variant that has subscribers for `symbol`, with its group.
    @inline(__always)
    public func forEachGroup(of symbol: SymbolID, _ body: (ProtocolVariant, [Unmanaged<Subscriber>]) -> Void) {
        guard Int(symbol) < symbols.count, let entry = symbols[Int(symbol)] else { return }
        for variant in entry.activeVariants {
            body(ProtocolVariant(index: variant), entry.groups[variant])
        }
    }

    public func subscriberCount(of symbol: SymbolID) -> Int {
        Int(symbol) < symbols.count ? symbols[Int(symbol)]?.total ?? 0 : 0
    }
}
