/// The verdict on a new version during its watch, from figures alone (no clock, no socket):
/// the standby feeds it every poll and acts on what it says.
struct WatchJudge {
    let policy: WatchPolicy
    /// The old version's window before the handover (or, for the flags monitor, the control
    /// group's window).
    let baseline: DeployWindow
    /// How reasons name the baseline: "before" for a deploy.
    var baselineName = "before"

    enum Verdict: Equatable {
        /// Not yet: the window is not over, or the sample is not there.
        case watching
        case promote
        /// Worse than allowed, or not answering: `figure` names what decided.
        case rollBack(figure: String, reason: String)
    }

    /// What the figures say after `elapsed` seconds of watch: `candidate` is the new version's
    /// window since the watch began (nil while it did not answer), `silentFor` how long it has
    /// not answered, `unreadyFor` how long it has answered not ready.
    func verdict(candidate: DeployWindow?, elapsed: Double, silentFor: Double, unreadyFor: Double) -> Verdict {
        if silentFor >= policy.unresponsiveSeconds {
            return .rollBack(figure: "unresponsive", reason: "did not answer for \(Self.format(silentFor)) s (allowed \(Self.format(policy.unresponsiveSeconds)) s)")
        }
        if unreadyFor >= policy.unresponsiveSeconds {
            return .rollBack(figure: "readiness", reason: "not ready for \(Self.format(unreadyFor)) s (allowed \(Self.format(policy.unresponsiveSeconds)) s)")
        }
        guard let candidate else { return .watching }
        // A breach decides as soon as its figure's sample is there, before the window ends.
        if let breach = breach(candidate) { return breach }
        guard elapsed >= policy.seconds else { return .watching }
        if candidate.deliveries >= policy.minSample { return .promote }
        if elapsed >= policy.longestSeconds {
            return .rollBack(figure: "sample", reason: "only \(candidate.deliveries) deliveries in \(Self.format(elapsed)) s, fewer than the \(policy.minSample) a verdict needs")
        }
        return .watching
    }

    /// The first figure over its threshold among those with their sample (sessions for the
    /// failure share, deliveries for the latencies), if any.
    func breach(_ candidate: DeployWindow) -> Verdict? {
        let failureIncrease = (candidate.failureRatio - baseline.failureRatio) * 100
        if candidate.connections >= policy.minSessions && failureIncrease > policy.maxFailureIncreasePoints {
            return .rollBack(figure: "failures", reason: "failed sessions \(Self.percent(candidate.failureRatio)) vs \(Self.percent(baseline.failureRatio)) \(baselineName) "
                + "(+\(Self.format(failureIncrease)) points, allowed +\(Self.format(policy.maxFailureIncreasePoints)))")
        }
        guard candidate.deliveries >= policy.minSample else { return nil }
        let latencyIncrease = (candidate.outputWaitP99 - baseline.outputWaitP99) * 1000
        if latencyIncrease > policy.maxLatencyIncreaseMilliseconds {
            return .rollBack(figure: "latency", reason: "output wait p99 \(Self.milliseconds(candidate.outputWaitP99)) vs \(Self.milliseconds(baseline.outputWaitP99)) \(baselineName) "
                + "(+\(Self.format(latencyIncrease)) ms, allowed +\(Self.format(policy.maxLatencyIncreaseMilliseconds)))")
        }
        let lagIncrease = (candidate.loopLagP99 - baseline.loopLagP99) * 1000
        if lagIncrease > policy.maxLagIncreaseMilliseconds {
            return .rollBack(figure: "lag", reason: "event-loop lag p99 \(Self.milliseconds(candidate.loopLagP99)) vs \(Self.milliseconds(baseline.loopLagP99)) \(baselineName) "
                + "(+\(Self.format(lagIncrease)) ms, allowed +\(Self.format(policy.maxLagIncreaseMilliseconds)))")
        }
        return nil
    }

    static func format(_ value: Double) -> String {
        let rounded = (value * 100).rounded() / 100
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
    }

    static func percent(_ ratio: Double) -> String { format(ratio * 100) + "%" }
    static func milliseconds(_ seconds: Double) -> String { format(seconds * 1000) + " ms" }
}
