import ByteBuffers
import EventLoop
import MarketData

/// A session's `max_rate` caps: per capped symbol, the earliest time its next update may go and
/// the newest update held back until then (newest state wins: at most one pending per symbol).
/// Only sessions that asked for a cap have one, so uncapped ones pay a nil check.
///
/// Held updates go out together on one timer: a symbol's next slot starts when it was last
/// sent, and symbols subscribed together and updating often stay in step, so one firing sends
/// them all.
final class RateCaps {
    struct Cap {
        /// Nanoseconds between two updates of the symbol.
        var interval: UInt64
        /// Monotonic time from which the next update may go at once.
        var nextDue: UInt64
        /// The newest update held back; nil when nothing waits.
        var pending: SharedBytes?
        /// Per second, as the client asked (the handover carries it).
        let perSecond: Int
    }

    enum Admission {
        /// Send this update now.
        case send
        /// Send now, but the client missed the updates held before it: a delta would not apply.
        case sendWhole
        /// Held until the symbol's next slot.
        case held
    }

    private(set) var caps: [SymbolID: Cap] = [:]
    var timer: Timer?

    var isEmpty: Bool { caps.isEmpty }

    func cap(_ symbol: SymbolID, perSecond: Int, now: UInt64) {
        let interval = 1_000_000_000 / UInt64(perSecond)
        caps[symbol] = Cap(interval: interval, nextDue: now &+ interval, pending: nil, perSecond: perSecond)
    }

    func uncap(_ symbol: SymbolID) {
        caps[symbol] = nil
    }

    func perSecond(of symbol: SymbolID) -> Int? { caps[symbol]?.perSecond }

    /// What to do with an update of `symbol` at `now`; a held one replaces the one held before
    /// (`replaced` says so).
    func admit(_ frame: SharedBytes, symbol: SymbolID, now: UInt64, replaced: inout Bool) -> Admission {
        guard let index = caps.index(forKey: symbol) else { return .send }
        if now >= caps.values[index].nextDue {
            caps.values[index].nextDue = now &+ caps.values[index].interval
            let missed = caps.values[index].pending != nil
            caps.values[index].pending = nil
            return missed ? .sendWhole : .send
        }
        replaced = caps.values[index].pending != nil
        caps.values[index].pending = frame
        return .held
    }

    /// Takes every held update that is due at `now` (all of them with `all`), and says when
    /// the next one is, if any waits.
    func takeDue(now: UInt64, all: Bool = false, _ body: (SymbolID, SharedBytes) -> Void) -> UInt64? {
        var next: UInt64?
        // Walked by index (not `indices`, which would hold a copy and make each change copy it).
        var index = caps.startIndex
        while index != caps.endIndex {
            if let frame = caps.values[index].pending {
                let due = caps.values[index].nextDue
                if all || due <= now {
                    caps.values[index].pending = nil
                    caps.values[index].nextDue = now &+ caps.values[index].interval
                    body(caps.keys[index], frame)
                } else {
                    next = min(next ?? due, due)
                }
            }
            caps.formIndex(after: &index)
        }
        return next
    }
}
