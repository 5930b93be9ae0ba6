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
/// A subscription with a rate cap (`max_rate`) sits in a capped group instead, one per symbol,
/// whole-state variant and rate: an update only marks the group changed, and at each tick of
/// its rate (`takeChanged`, on one clock for every connection) the symbol's newest state is
/// encoded once and handed to all of the group. So capped subscriptions cost per tick, not per
/// update and subscriber.
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
        /// Rate-capped subscribers; usually none.
        var capped: [CappedGroup] = []
    }

    struct CappedGroup {
        /// The whole-state variant sent (a capped subscription gets whole states: its client
        /// has missed the updates between two).
        let variant: ProtocolVariant
        let perSecond: Int
        var members: [Unmanaged<Subscriber>] = []
        /// An update came since the last tick.
        var changed = false
    }

    private var symbols: [SymbolGroups?] = []
    /// Subscriptions over all symbols and connections.
    public private(set) var totalSubscriptions = 0
    /// Rate-capped subscriptions, by rate: each rate with some has a tick.
    public private(set) var cappedSubscriptions: [Int: Int] = [:]
    /// Per rate, the symbols with a capped group changed since its last tick.
    private var changedByRate: [Int: [SymbolID]] = [:]
    /// Updates a cap held back that a newer one replaced, counted per subscription.
    public private(set) var cappedUpdatesReplaced: UInt64 = 0

    /// Called when a symbol gets its first subscriber (true) and loses its last (false): what
    /// the market bus follows. Subscribe/unsubscribe are cold paths, so a closure costs nothing.
    public var onInterestChange: ((SymbolID, Bool) -> Void)?

    public init() {}

    /// Subscribes (or moves to another variant or cap). `maxRate`: at most that many updates a
    /// second, in a capped group. Returns false when it was already there.
    @discardableResult
    public func subscribe(_ subscriber: Subscriber, to symbol: SymbolID, variant: ProtocolVariant, maxRate: Int? = nil) -> Bool {
        if let slot = subscriber.subscriptionSlots[symbol] {
            if slot.variant == variant && maxRate == self.maxRate(of: subscriber, symbol: symbol) { return false }
            unsubscribe(subscriber, from: symbol)
        }
        let index = Int(symbol)
        if index >= symbols.count { symbols.append(contentsOf: repeatElement(nil, count: index + 1 - symbols.count)) }
        var entry = symbols[index].take() ?? SymbolGroups()
        if let maxRate {
            let whole = variant.whole
            var group = entry.capped.firstIndex { $0.variant == whole && $0.perSecond == maxRate }
            if group == nil {
                entry.capped.append(CappedGroup(variant: whole, perSecond: maxRate))
                group = entry.capped.count - 1
            }
            let g = group!
            subscriber.subscriptionSlots[symbol] = SubscriptionSlot(variant: variant, position: entry.capped[g].members.count, capped: true)
            entry.capped[g].members.append(Unmanaged.passUnretained(subscriber))
            cappedSubscriptions[maxRate, default: 0] += 1
            return finishSubscribe(symbol, entry)
        }
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
        return finishSubscribe(symbol, entry)
    }

    private func finishSubscribe(_ symbol: SymbolID, _ entry: SymbolGroups) -> Bool {
        var entry = entry
        entry.total += 1
        symbols[Int(symbol)] = entry
        totalSubscriptions += 1
        if entry.total == 1 { onInterestChange?(symbol, true) }
        return true
    }

    /// The capped group a capped slot points into.
    private func cappedGroup(of subscriber: Subscriber, slot: SubscriptionSlot, in entry: SymbolGroups) -> Int? {
        entry.capped.firstIndex { group in
            group.variant == slot.variant.whole && slot.position < group.members.count
                && group.members[slot.position].toOpaque() == Unmanaged.passUnretained(subscriber).toOpaque()
        }
    }

    /// The subscription's cap, nil when uncapped or not subscribed. Cold path.
    public func maxRate(of subscriber: Subscriber, symbol: SymbolID) -> Int? {
        guard let slot = subscriber.subscriptionSlots[symbol], slot.capped, let entry = symbols[Int(symbol)],
              let group = cappedGroup(of: subscriber, slot: slot, in: entry) else { return nil }
        return entry.capped[group].perSecond
    }

    /// Unsubscribes; returns false when it was not subscribed.
    @discardableResult
    public func unsubscribe(_ subscriber: Subscriber, from symbol: SymbolID) -> Bool {
        guard let slot = subscriber.subscriptionSlots[symbol], var entry = symbols[Int(symbol)].take() else { return false }
        if slot.capped {
            let group = cappedGroup(of: subscriber, slot: slot, in: entry)!
            subscriber.subscriptionSlots[symbol] = nil
            let last = entry.capped[group].members.count - 1
            if slot.position != last {
                let moved = entry.capped[group].members[last]
                entry.capped[group].members[slot.position] = moved
                moved.takeUnretainedValue().subscriptionSlots[symbol]?.position = slot.position
            }
            entry.capped[group].members.removeLast()
            let rate = entry.capped[group].perSecond
            if entry.capped[group].members.isEmpty { entry.capped.remove(at: group) }
            cappedSubscriptions[rate]! -= 1
            if cappedSubscriptions[rate] == 0 { cappedSubscriptions[rate] = nil }
            return finishUnsubscribe(symbol, entry)
        }
        subscriber.subscriptionSlots[symbol] = nil
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
        return finishUnsubscribe(symbol, entry)
    }

    private func finishUnsubscribe(_ symbol: SymbolID, _ entry: SymbolGroups) -> Bool {
        var entry = entry
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

    /// An update of `symbol` came: its capped groups have something for their next tick.
    @inline(__always)
    public func noteUpdate(_ symbol: SymbolID) {
        guard !cappedSubscriptions.isEmpty else { return }
        markCappedChanged(symbol)
    }

    private func markCappedChanged(_ symbol: SymbolID) {
        guard Int(symbol) < symbols.count, symbols[Int(symbol)]?.capped.isEmpty == false else { return }
        var entry = symbols[Int(symbol)].take()!
        for group in entry.capped.indices {
            if entry.capped[group].changed {
                cappedUpdatesReplaced &+= UInt64(entry.capped[group].members.count)
            } else {
                entry.capped[group].changed = true
                changedByRate[entry.capped[group].perSecond, default: []].append(symbol)
            }
        }
        symbols[Int(symbol)] = entry
    }

    /// A tick of `perSecond`: calls `body` once per capped group of that rate changed since the
    /// last one, with its whole-state variant and members.
    public func takeChanged(perSecond: Int, _ body: (SymbolID, ProtocolVariant, [Unmanaged<Subscriber>]) -> Void) {
        guard var changed = changedByRate[perSecond], !changed.isEmpty else { return }
        changedByRate[perSecond] = []
        for symbol in changed {
            guard Int(symbol) < symbols.count, var entry = symbols[Int(symbol)].take() else { continue }
            var due: [(ProtocolVariant, [Unmanaged<Subscriber>])] = []
            for group in entry.capped.indices where entry.capped[group].perSecond == perSecond && entry.capped[group].changed {
                entry.capped[group].changed = false
                due.append((entry.capped[group].variant, entry.capped[group].members))
            }
            symbols[Int(symbol)] = entry
            for (variant, members) in due { body(symbol, variant, members) }
        }
        changed.removeAll(keepingCapacity: true)
        if changedByRate[perSecond]?.isEmpty ?? true { changedByRate[perSecond] = changed }
    }

    public func subscriberCount(of symbol: SymbolID) -> Int {
        Int(symbol) < symbols.count ? symbols[Int(symbol)]?.total ?? 0 : 0
    }
}
