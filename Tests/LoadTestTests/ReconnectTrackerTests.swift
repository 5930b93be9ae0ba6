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
        tracker.snapshot(client: 0, subscription: 0, seq: 10, last: 10)   // nothing missed
        tracker.snapshot(client: 0, subscription: 1, seq: 15, last: 10)   // 4 updates covered
        tracker.snapshot(client: 0, subscription: 2, seq: 3, last: 10)    // another instance's numbering
        #expect(tracker.coveredBySnapshot == 4 && tracker.sequenceRestarts == 1)
        #expect(tracker.awaitingSnapshot[0] == [false, false, false])
    }
}
