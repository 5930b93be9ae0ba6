import Testing
import WebSocket
@testable import loadtest

@Suite struct ReconnectTrackerTests {
    @Test func aClientToldToGoWaitsWhatItWasToldAndIsTimed() {
        var tracker = ReconnectTracker(clients: 2, subscriptions: 3)
        let notice = Array(#"{"type":"reconnect","reason":"draining","retry_after_ms":400}"#.utf8)
        #expect(notice.withUnsafeBytes { tracker.noticeIfReconnect($0, client: 0) })
        #expect(!Array(#"{"type":"subscribed","symbols":["A"],"depth":1}"#.utf8).withUnsafeBytes { tracker.noticeIfReconnect($0, client: 0) })
        let wait = tracker.connectionEnded(client: 0, closeCode: .goingAway, now: 1_000_000_000)
        #expect((400_000_000...600_000_000).contains(wait))  // 400 ms plus up to half again
        #expect(tracker.away == 1 && tracker.abruptCloses == 0)
        #expect(tracker.awaitingSnapshot[0] == [true, true, true])
        tracker.connectionOpened(client: 0, now: 1_450_000_000)
        #expect(tracker.away == 0 && tracker.reconnects == 1)
        #expect(tracker.times.max == 450)
    }

    @Test func closesWithoutNoticeOr1001AreAbrupt() {
        var tracker = ReconnectTracker(clients: 1, subscriptions: 1)
        let wait = tracker.connectionEnded(client: 0, closeCode: nil, now: 0)
        #expect((100_000_000...1_500_000_000).contains(wait))
        #expect(tracker.abruptCloses == 1)
        _ = tracker.connectionEnded(client: 0, closeCode: .goingAway, now: 0)
        #expect(tracker.abruptCloses == 1)  // 1001 alone is a proper goodbye
    }

    @Test func snapshotsAreCheckedAgainstTheLastSeq() {
        var tracker = ReconnectTracker(clients: 1, subscriptions: 3)
        _ = tracker.connectionEnded(client: 0, closeCode: .goingAway, now: 0)
        tracker.snapshot(client: 0, subscription: 0, seq: 10, last: 10, now: 5)   // nothing missed
        tracker.snapshot(client: 0, subscription: 1, seq: 15, last: 10, now: 5)   // 4 updates covered
        tracker.snapshot(client: 0, subscription: 2, seq: 3, last: 10, now: 5)    // a rewind: no epoch said otherwise
        #expect(tracker.coveredBySnapshot == 4 && tracker.sequenceRestarts == 1)
        #expect(tracker.awaitingSnapshot[0] == [false, false, false])
    }

    func subscribed(_ tracker: inout ReconnectTracker, epoch: String, client: Int) {
        let text = #"{"type":"subscribed","symbols":["SYM0001"],"depth":1,"epoch":"\#(epoch)"}"#
        #expect(Array(text.utf8).withUnsafeBytes { tracker.noticeIfSubscribed($0, client: client) })
    }

    /// A lower seq after a reconnect is a rewind in the same epoch, and a resync in a new one.
    @Test func aNewEpochIsAResyncAndTheSameEpochARewind() {
        var tracker = ReconnectTracker(clients: 2, subscriptions: 1)
        for client in 0..<2 { subscribed(&tracker, epoch: "aaaa", client: client) }
        for client in 0..<2 { _ = tracker.connectionEnded(client: client, closeCode: .goingAway, now: 1) }
        subscribed(&tracker, epoch: "aaaa", client: 0)
        subscribed(&tracker, epoch: "bbbb", client: 1)
        tracker.snapshot(client: 0, subscription: 0, seq: 3, last: 900, now: 5)
        tracker.snapshot(client: 1, subscription: 0, seq: 3, last: 900, now: 5)
        #expect(tracker.sequenceRestarts == 1 && tracker.resyncs == 1)
        // The next reconnect in the (now) same epoch is judged afresh.
        _ = tracker.connectionEnded(client: 1, closeCode: .goingAway, now: 2)
        subscribed(&tracker, epoch: "bbbb", client: 1)
        tracker.snapshot(client: 1, subscription: 0, seq: 2, last: 50, now: 5)
        #expect(tracker.sequenceRestarts == 2 && tracker.resyncs == 1)
        let notAnAck = Array(#"{"type":"reconnect","retry_after_ms":5}"#.utf8)
        #expect(!notAnAck.withUnsafeBytes { tracker.noticeIfSubscribed($0, client: 0) })
    }

    /// A storm's span: from the first client leaving until the last snapshot of the last
    /// client back; the reconnect rate between the first and the last to come back.
    @Test func aStormIsTimedUntilEveryClientHasItsSnapshots() {
        var tracker = ReconnectTracker(clients: 2, subscriptions: 2)
        for client in 0..<2 { _ = tracker.connectionEnded(client: client, closeCode: .goingAway, now: 1_000_000_000) }
        tracker.connectionOpened(client: 0, now: 1_500_000_000)
        tracker.snapshot(client: 0, subscription: 0, seq: 1, last: 1, now: 1_600_000_000)
        tracker.snapshot(client: 0, subscription: 1, seq: 1, last: 1, now: 1_700_000_000)
        #expect(tracker.stormMilliseconds == nil, "one client is still away")
        tracker.connectionOpened(client: 1, now: 2_000_000_000)
        tracker.snapshot(client: 1, subscription: 0, seq: 1, last: 1, now: 2_100_000_000)
        #expect(tracker.stormMilliseconds == nil, "one snapshot is still awaited")
        tracker.snapshot(client: 1, subscription: 1, seq: 1, last: 1, now: 2_250_000_000)
        #expect(tracker.stormMilliseconds == 1250)
        #expect(tracker.reconnectsPerSecond == 2)
    }
}
