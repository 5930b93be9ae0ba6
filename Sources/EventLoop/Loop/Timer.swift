/// A one-shot timer scheduled on an `EventLoop`. Cancelling is O(1): the entry stays in the
/// heap and is skipped when it comes due.
public final class Timer {
    /// When the timer is due, in monotonic nanoseconds. Inside a repeating timer's callback it
    /// is still the time this firing was scheduled for (the timer is re-armed afterwards).
    public internal(set) var deadline: UInt64
    var sequence: UInt64
    /// Nanoseconds between firings of a repeating timer; 0 for a one-shot timer.
    let interval: UInt64
    fileprivate(set) var callback: (() -> Void)?

    init(deadline: UInt64, sequence: UInt64, interval: UInt64 = 0, callback: @escaping () -> Void) {
        self.deadline = deadline
        self.sequence = sequence
        self.interval = interval
        self.callback = callback
    }

    /// Stops the timer from firing; harmless after it fired.
    public func cancel() { callback = nil }

    public var isPending: Bool { callback != nil }

    func fire() {
        guard let body = callback else { return }
        if interval == 0 { callback = nil }
        body()
    }
}

/// A binary min-heap of timers ordered by deadline, then by scheduling order.
struct TimerHeap {
    private var items: [Timer] = []

    var isEmpty: Bool { items.isEmpty }
    var earliest: Timer? { items.first }

    mutating func insert(_ timer: Timer) {
        items.append(timer)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.before(items[child], items[parent]) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func removeEarliest() -> Timer? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < items.count && Self.before(items[left], items[smallest]) { smallest = left }
            if right < items.count && Self.before(items[right], items[smallest]) { smallest = right }
            if smallest == parent { break }
            items.swapAt(parent, smallest)
            parent = smallest
        }
        return top
    }

    private static func before(_ a: Timer, _ b: Timer) -> Bool {
        a.deadline != b.deadline ? a.deadline < b.deadline : a.sequence < b.sequence
    }
}
