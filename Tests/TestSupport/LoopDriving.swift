import EventLoop

/// Runs `loop` until `condition` holds or `seconds` pass; returns whether it held.
@discardableResult
public func run(_ loop: EventLoop, until condition: () -> Bool, seconds: Double = 3) -> Bool {
    let deadline = MonotonicClock.now() + UInt64(seconds * 1e9)
    while !condition() {
        if MonotonicClock.now() > deadline { return false }
        loop.runOnce(maxWait: 5)
    }
    return true
}

/// Runs `loop` for `seconds`.
public func run(_ loop: EventLoop, for seconds: Double) {
    let deadline = MonotonicClock.now() + UInt64(seconds * 1e9)
    while MonotonicClock.now() < deadline { loop.runOnce(maxWait: 5) }
}
