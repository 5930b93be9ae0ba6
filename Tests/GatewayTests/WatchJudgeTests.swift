import Foundation
import EventLoop
@testable import Gateway
import Testing

/// The verdict of a watched deploy from figures alone: the thresholds, the minimum samples, the
/// window and its extension, silence and readiness.
@Suite struct WatchJudgeTests {
    static let buckets = DeployFigures.bucketCount

    /// `count` samples all in the bucket whose upper bound is `bound` nanoseconds.
    static func histogram(_ count: UInt64, at bound: UInt64) -> [UInt64] {
        var counts = Array(repeating: UInt64(0), count: buckets)
        counts[DurationHistogram.bucketBounds.firstIndex(of: bound) ?? buckets - 1] = count
        return counts
    }

    static func window(deliveries: UInt64 = 10_000, failures: UInt64 = 0, connections: UInt64 = 100,
                       wait: UInt64 = 500_000, lag: UInt64 = 1_000_000) -> DeployWindow {
        DeployWindow(deliveries: deliveries, failures: failures, connections: connections,
                     outputWait: histogram(deliveries, at: wait), loopLag: histogram(100, at: lag))
    }

    var policy: WatchPolicy {
        var configuration = GatewayConfiguration()
        configuration.watch = 30
        return WatchPolicy(configuration)
    }

    var judge: WatchJudge { WatchJudge(policy: policy, baseline: Self.window()) }

    @Test func aVersionAsGoodAsTheOldIsPromotedOnlyAtTheEndOfTheWindow() {
        #expect(judge.verdict(candidate: Self.window(), elapsed: 10, silentFor: 0, unreadyFor: 0) == .watching)
        #expect(judge.verdict(candidate: Self.window(), elapsed: 30, silentFor: 0, unreadyFor: 0) == .promote)
    }

    @Test func eachFigureOverItsThresholdRollsBackAtOnce() {
        // +5 points of failed sessions against an allowance of +2.
        guard case .rollBack("failures", let reason) = judge.verdict(candidate: Self.window(failures: 5), elapsed: 1, silentFor: 0, unreadyFor: 0) else {
            Issue.record("failures not judged")
            return
        }
        #expect(reason.contains("5% vs 0% before") && reason.contains("allowed +2"))
        // 2 points exactly is allowed.
        #expect(judge.verdict(candidate: Self.window(failures: 2), elapsed: 30, silentFor: 0, unreadyFor: 0) == .promote)
        let slow = judge.verdict(candidate: Self.window(wait: 250_000_000), elapsed: 1, silentFor: 0, unreadyFor: 0)
        #expect({ if case .rollBack("latency", _) = slow { return true }; return false }())
        let stalled = judge.verdict(candidate: Self.window(lag: 250_000_000), elapsed: 1, silentFor: 0, unreadyFor: 0)
        #expect({ if case .rollBack("lag", _) = stalled { return true }; return false }())
        // Within the allowance: 10 ms of lag p99 is not +50 ms.
        #expect(judge.verdict(candidate: Self.window(lag: 10_000_000), elapsed: 30, silentFor: 0, unreadyFor: 0) == .promote)
    }

    /// A quiet minute neither passes nor fails a version: no verdict on figures without their
    /// sample; the watch runs on up to three times its length, then rolls back.
    @Test func withoutItsSampleAFigureDecidesNothing() {
        let quiet = Self.window(deliveries: 10, failures: 3, connections: 3, wait: 250_000_000, lag: 250_000_000)
        #expect(judge.verdict(candidate: quiet, elapsed: 1, silentFor: 0, unreadyFor: 0) == .watching)
        #expect(judge.verdict(candidate: quiet, elapsed: 60, silentFor: 0, unreadyFor: 0) == .watching)
        guard case .rollBack("sample", let reason) = judge.verdict(candidate: quiet, elapsed: 90, silentFor: 0, unreadyFor: 0) else {
            Issue.record("an unjudgeable version was kept")
            return
        }
        #expect(reason.contains("only 10 deliveries"))
        // Sessions are the failure share's own sample: a version that fails every client
        // (and so stops delivering) is judged on it.
        let failing = Self.window(deliveries: 10, failures: 12, connections: 12)
        #expect({ if case .rollBack("failures", _) = judge.verdict(candidate: failing, elapsed: 1, silentFor: 0, unreadyFor: 0) { return true }; return false }())
    }

    @Test func silenceAndUnreadinessRollBackAfterTheirAllowance() {
        #expect(judge.verdict(candidate: nil, elapsed: 2, silentFor: 2, unreadyFor: 0) == .watching)
        #expect({ if case .rollBack("unresponsive", _) = judge.verdict(candidate: nil, elapsed: 3, silentFor: 3, unreadyFor: 0) { return true }; return false }())
        #expect({ if case .rollBack("readiness", _) = judge.verdict(candidate: Self.window(), elapsed: 5, silentFor: 0, unreadyFor: 3) { return true }; return false }())
    }

    @Test func figuresTravelAsOneLineAndOddOnesAreRefused() {
        var figures = DeployFigures()
        figures.deliveries = 123
        figures.failures = 4
        figures.connectionsSeen = 7
        figures.connectionsOpen = 5
        figures.outputWait = Self.histogram(9, at: 1_000_000)
        figures.loopLag = Self.histogram(3, at: 50_000_000)
        figures.ready = false
        #expect(DeployFigures(line: figures.line) == figures)
        #expect(DeployFigures(line: figures.line + " newer=1") == figures, "a field from a newer build is skipped")
        #expect(DeployFigures(line: figures.line.replacingOccurrences(of: "failures=4", with: "failures=x")) == nil)
        #expect(DeployFigures(line: figures.line.replacingOccurrences(of: "ready=0", with: "")) == nil)
        #expect(DeployFigures(line: "HELLO") == nil)
        var later = figures
        later.deliveries = 223
        later.connectionsSeen = 9
        let window = later.since(figures)
        #expect(window.deliveries == 100 && window.connections == 5 + 2)
    }

    @Test func theTermsTravelAsOneLineWithDefaultsForWhatIsLeftOut() {
        #expect(WatchPolicy(line: policy.line) == policy)
        let sparse = WatchPolicy(line: "WATCH seconds=12 future-term=4")
        #expect(sparse?.seconds == 12 && sparse?.minSample == 1000 && sparse?.maxFailureIncreasePoints == 2)
        #expect(WatchPolicy(line: "WATCH seconds=0") == nil && WatchPolicy(line: "WATCH seconds=x") == nil && WatchPolicy(line: "FIGURES") == nil)
    }

    /// The p99 interpolates within its bucket as Prometheus' histogram_quantile does.
    @Test func quantilesInterpolateLikePrometheus() {
        #expect(DeployWindow.quantile(0.99, of: Array(repeating: 0, count: Self.buckets)) == 0)
        // 100 samples in (0.5 ms, 1 ms]: the 99th is at 0.5 + 0.5 * 99/100 ms.
        let q = DeployWindow.quantile(0.99, of: Self.histogram(100, at: 1_000_000))
        #expect(abs(q - 0.000995) < 1e-9)
        // Past the last bound it is the last bound.
        #expect(DeployWindow.quantile(0.99, of: Self.histogram(5, at: 0)) == 0.25)
    }
}
