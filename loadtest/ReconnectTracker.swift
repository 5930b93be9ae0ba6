import Histogram
import WebSocket

/// `--reconnect`: what a client that follows the drain protocol sees through a deploy. A client
/// told to go (v2's `{"type":"reconnect","retry_after_ms":N}`, or Close 1001) waits N ms (or
/// 100-1000 ms without a notice) plus up to half as much again of jitter, dials again and
/// resubscribes; its first update per symbol is then the snapshot, checked against the last
/// `seq` it saw.
struct ReconnectTracker {
    /// Per client: when its connection ended, while it has not come back.
    private var closedAt: [UInt64?]
    /// Per client: the wait the server's notice asked for.
    private var retryAfter: [Int?]
    /// Per client and subscription: the next update is the snapshot after a reconnect.
    private(set) var awaitingSnapshot: [[Bool]]

    /// Time from a connection's end to its replacement's open, milliseconds.
    private(set) var times = Histogram<UInt64>(highestTrackableValue: 600_000, numberOfSignificantValueDigits: .three)
    private(set) var reconnects = 0
    /// Connections that ended with neither a notice nor Close 1001 (reset, timeout, other code).
    private(set) var abruptCloses = 0
    /// Snapshots whose seq was lower than the last one seen in the same epoch: a rewind.
    private(set) var sequenceRestarts = 0
    /// Per client: the epoch its last `subscribed` reply named, and whether it changed at the
    /// reconnect (a new sequence space: its snapshots resync, they do not rewind).
    private var epochs: [String?]
    private var epochChanged: [Bool]
    /// Subscriptions resynced from a snapshot in a new epoch (the server's sequence restarted
    /// and said so).
    private(set) var resyncs = 0
    /// Updates between the last one seen and the snapshot, which carries their result.
    private(set) var coveredBySnapshot: UInt64 = 0
    /// A reconnect storm's span (loop times, 0: not yet): the first connection that ended, the
    /// first and last that came back, and the last snapshot a returning client was waiting for.
    private(set) var firstCloseAt: UInt64 = 0
    private(set) var firstReopenAt: UInt64 = 0
    private(set) var lastReopenAt: UInt64 = 0
    private(set) var lastSnapshotAt: UInt64 = 0
    /// Subscriptions of returned clients still waiting for their snapshot.
    private(set) var snapshotsAwaited = 0

    /// Milliseconds from the first connection's end until every client that left was back and
    /// had a snapshot of each of its symbols; nil while some are still away or waiting.
    var stormMilliseconds: Double? {
        guard firstCloseAt != 0, away == 0, snapshotsAwaited == 0, lastSnapshotAt >= firstCloseAt else { return nil }
        return Double(lastSnapshotAt - firstCloseAt) / 1e6
    }

    /// Reconnects per second between the first and the last to come back: what the server
    /// absorbed (when clients come back faster than it accepts them).
    var reconnectsPerSecond: Double? {
        guard reconnects > 1, lastReopenAt > firstReopenAt else { return nil }
        return Double(reconnects - 1) / (Double(lastReopenAt - firstReopenAt) / 1e9)
    }

    init(clients: Int, subscriptions: Int) {
        closedAt = Array(repeating: nil, count: clients)
        retryAfter = Array(repeating: nil, count: clients)
        awaitingSnapshot = Array(repeating: Array(repeating: false, count: subscriptions), count: clients)
        epochs = Array(repeating: nil, count: clients)
        epochChanged = Array(repeating: false, count: clients)
    }

    /// A v2 `subscribed` reply: remembers the epoch it names, noting a change since the last.
    mutating func noticeIfSubscribed(_ payload: UnsafeRawBufferPointer, client: Int) -> Bool {
        let text = String(decoding: payload, as: UTF8.self)
        guard text.contains("\"type\":\"subscribed\"") else { return false }
        if let range = text.range(of: "\"epoch\":\"") {
            let epoch = String(text[range.upperBound...].prefix(while: { $0 != "\"" }))
            if let previous = epochs[client], previous != epoch { epochChanged[client] = true }
            epochs[client] = epoch
        }
        return true
    }

    /// Clients whose connection ended and did not come back (yet).
    var away: Int { closedAt.reduce(0) { $0 + ($1 == nil ? 0 : 1) } }

    /// A v2 control message: is it the reconnect notice? Remembers its wait.
    mutating func noticeIfReconnect(_ payload: UnsafeRawBufferPointer, client: Int) -> Bool {
        let text = String(decoding: payload, as: UTF8.self)
        guard text.contains("\"type\":\"reconnect\"") else { return false }
        if let range = text.range(of: "\"retry_after_ms\":") {
            retryAfter[client] = Int(text[range.upperBound...].prefix(while: { $0.isNumber }))
        }
        return true
    }

    /// The connection ended while the run goes on. Returns nanoseconds to wait before dialing
    /// again, jitter included.
    mutating func connectionEnded(client: Int, closeCode: CloseCode?, now: UInt64) -> UInt64 {
        let told = retryAfter[client]
        if told == nil && closeCode != .goingAway { abruptCloses += 1 }
        closedAt[client] = closedAt[client] ?? now
        if firstCloseAt == 0 { firstCloseAt = now }
        retryAfter[client] = nil
        for k in awaitingSnapshot[client].indices where !awaitingSnapshot[client][k] {
            awaitingSnapshot[client][k] = true
            snapshotsAwaited += 1
        }
        epochChanged[client] = false
        let wait = told ?? Int.random(in: 100...1000)
        return UInt64(wait + Int.random(in: 0...max(0, wait / 2))) * 1_000_000
    }

    /// A connection opened: if it replaces one that ended, that is a reconnect.
    mutating func connectionOpened(client: Int, now: UInt64) {
        guard let since = closedAt[client] else { return }
        times.record((now - since) / 1_000_000)
        reconnects += 1
        if firstReopenAt == 0 { firstReopenAt = now }
        lastReopenAt = now
        closedAt[client] = nil
    }

    /// The first update of subscription `k` after a reconnect; returns the seq to remember.
    mutating func snapshot(client: Int, subscription k: Int, seq: UInt64, last: UInt64, now: UInt64) {
        awaitingSnapshot[client][k] = false
        snapshotsAwaited -= 1
        lastSnapshotAt = now
        if epochChanged[client] {
            resyncs += 1
        } else if seq < last {
            sequenceRestarts += 1
        } else if last != 0 && seq > last + 1 {
            coveredBySnapshot += seq - last - 1
        }
    }
}
