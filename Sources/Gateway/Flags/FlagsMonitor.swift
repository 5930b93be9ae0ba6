import Glibc

/// `gateway flags monitor NAME`: judges a flag's cohort against the rest on the figures and
/// thresholds of a watched deploy (failure share, output-wait p99, each only with its minimum
/// sample) and, on a breach, kills the flag in the store, saying why. Exits 3 after a kill,
/// 0 with `--once` when healthy or short of its sample.
struct FlagsMonitor {
    let flag: String
    let options: ToolOptions
    let store: FlagStore

    func run() throws -> Int32 {
        let policy = WatchPolicy(options.configuration)
        let interval = try options.seconds("interval", default: 5)
        let window = try options.seconds("window", default: 60)
        var readings: CohortReadings
        if let server = options.own["prometheus"] {
            readings = PrometheusReadings(server: server.hasSuffix("/") ? String(server.dropLast()) : server)
        } else if let urls = options.own["metrics"] {
            readings = ScrapedReadings(urls: urls.split(separator: ",").map(String.init))
        } else {
            throw ToolError.usage("monitor needs --prometheus URL (a Prometheus scraping the fleet) or --metrics URL,URL (the instances' /metrics)")
        }
        say("watching \(flag) in \(store.description): cohort against the rest over \(WatchJudge.format(window)) s, every \(WatchJudge.format(interval)) s; "
            + "min sample \(policy.minSample) deliveries, \(policy.minSessions) sessions; allowed +\(WatchJudge.format(policy.maxFailureIncreasePoints)) points of failures, "
            + "+\(WatchJudge.format(policy.maxLatencyIncreaseMilliseconds)) ms of output wait p99")
        while true {
            do {
                let (on, off) = try readings.windows(flag: flag, seconds: window)
                let judge = WatchJudge(policy: policy, baseline: off, baselineName: "in the control group")
                let figures = "on: \(summary(on)); off: \(summary(off))"
                if case .rollBack(let figure, let reason)? = judge.breach(on) {
                    try store.update(flag, by: options.by, reason: "flags monitor: \(figure): \(reason)") { $0.enabled = false }
                    say("KILLED \(flag): \(figure): \(reason) (\(figures))")
                    return 3
                }
                let enough = on.deliveries >= policy.minSample || on.connections >= policy.minSessions
                say((enough ? "healthy" : "waiting for the sample") + " (\(figures))")
            } catch let error as ToolError {
                say("no verdict: \(error.message)")
            } catch {
                say("no verdict: \(error)")
            }
            if options.own["once"] != nil { return 0 }
            usleep(useconds_t(interval * 1_000_000))
        }
    }

    private func summary(_ window: DeployWindow) -> String {
        "\(window.connections) sessions, \(window.failures) failures (\(WatchJudge.percent(window.failureRatio))), \(window.deliveries) deliveries, "
            + "output wait p99 \(WatchJudge.milliseconds(window.outputWaitP99))"
    }

    private func say(_ line: String) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var time = tm()
        var seconds = now.tv_sec
        gmtime_r(&seconds, &time)
        var buffer = [UInt8](repeating: 0, count: 32)
        let length = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%SZ", &time)
        writeToStandardOutput(String(decoding: buffer[0..<length], as: UTF8.self) + " flags monitor: " + line + "\n")
    }
}
