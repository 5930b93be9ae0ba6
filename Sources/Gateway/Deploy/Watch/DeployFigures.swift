import EventLoop

/// What a watched deploy judges a version by, as cumulative counts since the process started:
/// a difference of two readings is a window. The same reading is taken of the old version
/// (its baseline, from its own recent past) and of the new one (polled during the watch), so
/// both sides are measured by one definition.
struct DeployFigures: Equatable {
    /// Market-data messages written to clients: the sample a verdict needs.
    var deliveries: UInt64 = 0
    /// Sessions the server failed: closes it sent for a protocol error (1002), bad data
    /// (1007), a slow consumer or policy (1008), an oversized message (1009) or an internal
    /// error (1011); closes a client sent because the server misbehaved (1002, 1007, 1011);
    /// idle closes; and peers dropped when the close handshake timed out.
    var failures: UInt64 = 0
    /// Connections accepted or adopted from a predecessor, over the process's life.
    var connectionsSeen: UInt64 = 0
    /// Connections open at the moment of the reading.
    var connectionsOpen: UInt64 = 0
    /// Per write, how long its bytes waited in the gateway (`DurationHistogram` buckets).
    var outputWait: [UInt64] = Array(repeating: 0, count: DeployFigures.bucketCount)
    /// How late the loop's 100 ms probe timer fired, per firing.
    var loopLag: [UInt64] = Array(repeating: 0, count: DeployFigures.bucketCount)
    /// Whether `/health/ready` would answer 200.
    var ready = true

    static let bucketCount = DurationHistogram.bucketBounds.count + 1

    init() {}

    /// The reading of this process now.
    init(context: GatewayContext, ready: Bool) {
        let metrics = context.metrics
        deliveries = metrics.messagesSentV1 &+ metrics.messagesSentV2
        failures = Self.failures(metrics)
        connectionsSeen = metrics.connectionsAccepted &+ metrics.handoverAdopted
        connectionsOpen = UInt64(max(0, metrics.connectionsOpen))
        outputWait = context.loop.statistics.outputWaits.bucketCounts
        loopLag = context.loop.statistics.lags.bucketCounts
        self.ready = ready
    }

    /// Sessions the server failed so far, as `failures` counts them.
    static func failures(_ metrics: GatewayMetrics) -> UInt64 {
        var count = metrics.idleCloses &+ metrics.closeTimeouts
        for code in failureCodes { count &+= metrics.closeCodesSent[code] ?? 0 }
        for code in failureCodesFromClients { count &+= metrics.closeCodesReceived[code] ?? 0 }
        return count
    }

    /// Close codes the server sends when it fails a session, and those a client sends when the
    /// server misbehaved.
    static let failureCodes: Set<UInt16> = [1002, 1007, 1008, 1009, 1011]
    static let failureCodesFromClients: Set<UInt16> = [1002, 1007, 1011]

    /// What happened between `earlier` and this reading: counts subtracted, and the
    /// connections observed in the window (those open at its start and those that came).
    func since(_ earlier: DeployFigures) -> DeployWindow {
        DeployWindow(deliveries: deliveries &- earlier.deliveries, failures: failures &- earlier.failures,
                     connections: earlier.connectionsOpen &+ (connectionsSeen &- earlier.connectionsSeen),
                     outputWait: zip(outputWait, earlier.outputWait).map { $0 &- $1 },
                     loopLag: zip(loopLag, earlier.loopLag).map { $0 &- $1 })
    }

    // MARK: The line the new version answers `FIGURES` with

    /// `FIGURES deliveries=N failures=N seen=N open=N wait=b0,b1,... lag=b0,b1,... ready=1`.
    var line: String {
        "FIGURES deliveries=\(deliveries) failures=\(failures) seen=\(connectionsSeen) open=\(connectionsOpen) "
            + "wait=\(outputWait.map(String.init).joined(separator: ",")) lag=\(loopLag.map(String.init).joined(separator: ",")) "
            + "ready=\(ready ? 1 : 0)"
    }

    /// Reads a `FIGURES` line. Fields it does not know are skipped (a newer peer may add some);
    /// a known field with a bad value, or a missing one, makes the line unreadable.
    init?(line: String) {
        let parts = line.split(separator: " ")
        guard parts.first == "FIGURES" else { return nil }
        var fields: [Substring: Substring] = [:]
        for part in parts.dropFirst() {
            guard let equals = part.firstIndex(of: "=") else { return nil }
            fields[part[..<equals]] = part[part.index(after: equals)...]
        }
        func number(_ key: Substring) -> UInt64? { fields[key].flatMap { UInt64($0) } }
        func buckets(_ key: Substring) -> [UInt64]? {
            guard let list = fields[key]?.split(separator: ",", omittingEmptySubsequences: false).map({ UInt64($0) }),
                  list.count == Self.bucketCount, list.allSatisfy({ $0 != nil }) else { return nil }
            return list.map { $0! }
        }
        guard let deliveries = number("deliveries"), let failures = number("failures"), let seen = number("seen"),
              let open = number("open"), let wait = buckets("wait"), let lag = buckets("lag"),
              let ready = fields["ready"], ready == "0" || ready == "1" else { return nil }
        self.deliveries = deliveries
        self.failures = failures
        connectionsSeen = seen
        connectionsOpen = open
        outputWait = wait
        loopLag = lag
        self.ready = ready == "1"
    }
}

/// The figures of one window, as a verdict compares them.
struct DeployWindow: Equatable {
    var deliveries: UInt64
    var failures: UInt64
    var connections: UInt64
    var outputWait: [UInt64]
    var loopLag: [UInt64]

    /// Failed sessions per connection observed; 0 with no connection.
    var failureRatio: Double { connections == 0 ? 0 : Double(failures) / Double(connections) }
    var outputWaitP99: Double { Self.quantile(0.99, of: outputWait) }
    var loopLagP99: Double { Self.quantile(0.99, of: loopLag) }

    /// The figures a verdict compares, by the names the log line and /metrics give them.
    var figures: [(name: String, value: Double)] {
        [("deliveries", Double(deliveries)), ("failure_ratio", failureRatio),
         ("output_wait_p99_seconds", outputWaitP99), ("loop_lag_p99_seconds", loopLagP99)]
    }

    /// The q-quantile in seconds of bucket counts, interpolated within its bucket as
    /// Prometheus' `histogram_quantile` does, so the PromQL of the Kubernetes analysis
    /// computes the same figure; 0 without samples. Past the last bound it is that bound.
    static func quantile(_ q: Double, of counts: [UInt64]) -> Double {
        let total = counts.reduce(0, +)
        guard total > 0 else { return 0 }
        let bounds = DurationHistogram.bucketBounds.map { Double($0) / 1e9 }
        let rank = q * Double(total)
        var below: UInt64 = 0
        for (index, count) in counts.enumerated() {
            if Double(below + count) >= rank && count > 0 {
                guard index < bounds.count else { return bounds.last! }
                let lower = index == 0 ? 0 : bounds[index - 1]
                return lower + (bounds[index] - lower) * (rank - Double(below)) / Double(count)
            }
            below += count
        }
        return bounds.last!
    }
}
