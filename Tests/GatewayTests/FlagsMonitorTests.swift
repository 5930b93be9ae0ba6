import Testing
@testable import Gateway

/// The flags monitor reads cohorts from Prometheus' API or from /metrics text, into the
/// windows `WatchJudge` compares.
@Suite struct FlagsMonitorTests {
    @Test func aPrometheusVectorIsReadWithItsLabel() throws {
        let body = Array(#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"le":"0.00001"},"value":[1700000000.5,"4"]},{"metric":{"le":"+Inf"},"value":[1700000000.5,"10.5"]}]}}"#.utf8)
        let vector = try PrometheusReadings.parseVector(body, label: "le")
        #expect(vector.map(\.label) == ["0.00001", "+Inf"] && vector.map(\.value) == [4, 10.5])
        #expect(try PrometheusReadings.parseVector(Array(#"{"status":"success","data":{"result":[]}}"#.utf8), label: nil).isEmpty)
    }

    @Test func cumulativeBucketsBecomeCountsPerBucket() {
        let counts = CohortSample.buckets(cumulative: [(0.00001, 4), (0.00005, 6), (.infinity, 10)])
        #expect(counts.count == 12 && counts[0] == 4 && counts[1] == 2 && counts[11] == 4 && counts.reduce(0, +) == 10)
    }

    @Test func scrapedMetricsAreSummedPerCohortOfTheFlag() {
        let text = """
        tickstream_cohort_sessions_started_total{flag="delta-updates",cohort="on"} 12
        tickstream_cohort_sessions_started_total{flag="delta-updates",cohort="off"} 10
        tickstream_cohort_sessions_started_total{flag="rate-caps",cohort="on"} 99
        tickstream_cohort_session_failures_total{flag="delta-updates",cohort="on"} 2
        tickstream_cohort_command_errors_total{flag="delta-updates",cohort="on"} 6
        tickstream_cohort_messages_sent_total{flag="delta-updates",cohort="on"} 5000
        tickstream_cohort_output_wait_seconds_bucket{flag="delta-updates",cohort="on",le="1e-05"} 3
        tickstream_cohort_output_wait_seconds_bucket{flag="delta-updates",cohort="on",le="+Inf"} 5
        """
        var on = CohortSample(), off = CohortSample()
        ScrapedReadings.add(text, flag: "delta-updates", on: &on, off: &off)
        ScrapedReadings.add(text, flag: "delta-updates", on: &on, off: &off)  // a second instance
        #expect(on.started == 24 && off.started == 20 && on.failures == 16 && on.deliveries == 10_000)
        #expect(on.waits[0] == 6 && on.waits[11] == 4)
        let window = CohortSample.window(on, since: nil)
        #expect(window.connections == 24 && window.failures == 16 && window.failureRatio > 0.6)
    }

    @Test func theJudgeNamesTheControlGroup() {
        var policy = WatchPolicy(GatewayConfiguration())
        policy.minSessions = 10
        let control = DeployWindow(deliveries: 5000, failures: 0, connections: 30, outputWait: Array(repeating: 0, count: 12), loopLag: Array(repeating: 0, count: 12))
        var cohort = control
        cohort.failures = 20
        let judge = WatchJudge(policy: policy, baseline: control, baselineName: "in the control group")
        guard case .rollBack(let figure, let reason)? = judge.breach(cohort) else { Issue.record("no breach"); return }
        #expect(figure == "failures" && reason.contains("vs 0% in the control group"))
        #expect(judge.breach(control) == nil)
    }
}
