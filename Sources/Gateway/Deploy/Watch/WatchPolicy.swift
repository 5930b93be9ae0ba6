/// The terms of a watched deploy: how long, the sample a verdict needs and how much worse than
/// the old version the new one may do. They are the deploy's choice, so the new instance has
/// them (its `--watch*` flags) and sends them to the standby, which judges:
/// `WATCH seconds=30 min-sample=1000 min-sessions=10 failure-points=2 latency-ms=50 lag-ms=50 unresponsive=3 baseline=60`.
struct WatchPolicy: Equatable {
    var seconds: Double
    var minSample: UInt64
    var minSessions: UInt64
    var maxFailureIncreasePoints: Double
    var maxLatencyIncreaseMilliseconds: Double
    var maxLagIncreaseMilliseconds: Double
    var unresponsiveSeconds: Double
    var baselineSeconds: Double

    init(_ configuration: GatewayConfiguration) {
        seconds = configuration.watch
        minSample = UInt64(configuration.watchMinSample)
        minSessions = UInt64(configuration.watchMinSessions)
        maxFailureIncreasePoints = configuration.watchMaxFailureIncrease
        maxLatencyIncreaseMilliseconds = configuration.watchMaxLatencyIncrease
        maxLagIncreaseMilliseconds = configuration.watchMaxLagIncrease
        unresponsiveSeconds = configuration.watchUnresponsive
        baselineSeconds = configuration.watchBaseline
    }

    /// The longest a watch goes on waiting for its sample.
    var longestSeconds: Double { seconds * 3 }

    var line: String {
        "WATCH seconds=\(Setting.format(seconds)) min-sample=\(minSample) min-sessions=\(minSessions) failure-points=\(Setting.format(maxFailureIncreasePoints)) "
            + "latency-ms=\(Setting.format(maxLatencyIncreaseMilliseconds)) lag-ms=\(Setting.format(maxLagIncreaseMilliseconds)) "
            + "unresponsive=\(Setting.format(unresponsiveSeconds)) baseline=\(Setting.format(baselineSeconds))"
    }

    /// Reads a `WATCH` line: a term it does not know is skipped, a term it leaves out keeps
    /// this build's default; nil for a line that is not a watch request or a bad value.
    init?(line: String) {
        let parts = line.split(separator: " ")
        guard parts.first == "WATCH" else { return nil }
        self.init(GatewayConfiguration())
        for part in parts.dropFirst() {
            let pair = part.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, let value = Double(pair[1]), value.isFinite, value >= 0 else { return nil }
            switch pair[0] {
            case "seconds": seconds = value
            case "min-sample": minSample = UInt64(value)
            case "min-sessions": minSessions = UInt64(value)
            case "failure-points": maxFailureIncreasePoints = value
            case "latency-ms": maxLatencyIncreaseMilliseconds = value
            case "lag-ms": maxLagIncreaseMilliseconds = value
            case "unresponsive": unresponsiveSeconds = max(1, value)
            case "baseline": baselineSeconds = value
            default: continue
            }
        }
        guard seconds > 0 else { return nil }
    }
}
