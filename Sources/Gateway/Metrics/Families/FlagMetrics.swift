import EventLoop
import Flags

/// Feature flags: each flag's state, the changes applied and refused, and for each gated
/// feature the figures of the sessions that asked for it and got it (`cohort="on"`) against
/// those that asked and did not (`cohort="off"`), which the flags monitor compares the way a
/// canary is compared with the stable version.
enum FlagMetrics {
    static func render(context: GatewayContext, to out: inout PrometheusText) {
        let book = context.flags
        let names = Set(book.flags.keys).union(GatedFeature.allCases.map(\.flag)).sorted()
        out.header("tickstream_flag_enabled", "gauge", "1 while the flag is enabled (its kill switch is off); a flag nobody defined is 0.")
        for name in names { out.sample("tickstream_flag_enabled", [("flag", name)], book.flags[name]?.enabled == true ? 1 : 0) }
        out.header("tickstream_flag_percent", "gauge", "Share of users the flag is on for, 0 to 100 (besides its allowlist).")
        for name in names { out.sample("tickstream_flag_percent", [("flag", name)], book.flags[name]?.percent ?? 0) }
        out.header("tickstream_flag_allowlisted", "gauge", "Users the flag is on for whatever its percentage.")
        for name in names { out.sample("tickstream_flag_allowlisted", [("flag", name)], book.flags[name]?.allow.count ?? 0) }
        out.header("tickstream_flag_changes_total", "counter", "Flag values applied, and refused (bad values: the flags held before stay).")
        out.sample("tickstream_flag_changes_total", [("result", "applied")], book.changesApplied)
        out.sample("tickstream_flag_changes_total", [("result", "refused")], book.changesRefused)

        let m = context.metrics
        let figures: [(String, String, String, (CohortCounters) -> UInt64)] = [
            ("tickstream_cohort_sessions_started_total", "counter",
             "Market-data sessions that asked for the flag's feature: got it (cohort on) or not (cohort off), decided when they first asked.", \.sessionsStarted),
            ("tickstream_cohort_sessions", "gauge", "Those sessions still open, by cohort.", { UInt64(max(0, $0.sessionsOpen)) }),
            ("tickstream_cohort_session_failures_total", "counter", "Those sessions that ended in a failure (the close codes a watched deploy counts), by cohort.", \.failures),
            ("tickstream_cohort_command_errors_total", "counter", "Error replies to those sessions' commands, by cohort.", \.commandErrors),
            ("tickstream_cohort_messages_sent_total", "counter", "Market-data messages queued to those sessions, by cohort.", \.messages),
            ("tickstream_cohort_bytes_sent_total", "counter", "Bytes of market-data frames queued to those sessions, by cohort.", \.bytes),
        ]
        for (name, type, help, value) in figures {
            out.header(name, type, help)
            for feature in GatedFeature.allCases {
                out.sample(name, [("flag", feature.flag), ("cohort", "on")], value(m.cohorts[feature, true]))
                out.sample(name, [("flag", feature.flag), ("cohort", "off")], value(m.cohorts[feature, false]))
            }
        }
        let stats = context.loop.statistics
        var series: [(labels: [(String, String)], counts: [UInt64], sumNanoseconds: UInt64)] = []
        for feature in GatedFeature.allCases {
            for (cohort, bit) in [("on", feature.onBit), ("off", feature.offBit)] {
                var counts = Array(repeating: UInt64(0), count: DurationHistogram.bucketBounds.count + 1)
                var sum: UInt64 = 0
                for latencyClass in 1..<16 where UInt8(latencyClass) & bit != 0 {
                    let waits = stats.classOutputWaits[latencyClass]
                    counts = zip(counts, waits.bucketCounts).map { $0 &+ $1 }
                    sum &+= waits.totalNanoseconds
                }
                series.append(([("flag", feature.flag), ("cohort", cohort)], counts, sum))
            }
        }
        out.histogram("tickstream_cohort_output_wait_seconds", "Per write to those sessions: how long its oldest bytes waited in the gateway, by cohort.", series: series)
    }
}
