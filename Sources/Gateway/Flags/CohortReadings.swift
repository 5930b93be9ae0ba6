import ByteBuffers
import EventLoop

/// A flag's cohort ("on") and the rest ("off") over a window, as `DeployWindow`s, so the flags
/// monitor judges them with the watched deploy's own `WatchJudge`: the rest is the baseline,
/// the cohort the candidate. A failure here is a failed session or an error reply.
protocol CohortReadings {
    mutating func windows(flag: String, seconds: Double) throws -> (on: DeployWindow, off: DeployWindow)
}

/// The figures one reading of the metrics holds for a cohort.
struct CohortSample {
    var started: Double = 0
    var open: Double = 0
    var failures: Double = 0
    var deliveries: Double = 0
    /// Output wait per `DurationHistogram` bucket (not cumulative).
    var waits = Array(repeating: 0.0, count: DurationHistogram.bucketBounds.count + 1)

    static func window(_ now: CohortSample, since then: CohortSample?) -> DeployWindow {
        let then = then ?? CohortSample()
        func count(_ value: Double) -> UInt64 { UInt64(max(0, value.rounded())) }
        return DeployWindow(deliveries: count(now.deliveries - then.deliveries), failures: count(now.failures - then.failures),
                            connections: count(now.started - then.started + then.open),
                            outputWait: zip(now.waits, then.waits).map { count($0 - $1) },
                            loopLag: Array(repeating: 0, count: DurationHistogram.bucketBounds.count + 1))
    }

    /// Cumulative `le` buckets (`le` in seconds, as Prometheus shows them) into per-bucket counts.
    static func buckets(cumulative: [(le: Double, count: Double)]) -> [Double] {
        let bounds = DurationHistogram.bucketBounds.map { Double($0) / 1e9 } + [Double.infinity]
        var cumulativeAt: [Double?] = Array(repeating: nil, count: bounds.count)
        for (le, count) in cumulative {
            if let index = bounds.firstIndex(where: { abs($0 - le) <= $0 * 1e-9 || ($0.isInfinite && le.isInfinite) }) {
                cumulativeAt[index] = (cumulativeAt[index] ?? 0) + count
            }
        }
        // A bound without a sample holds what the bound below it holds (cumulative counts).
        var filled: [Double] = []
        for value in cumulativeAt { filled.append(value ?? filled.last ?? 0) }
        return filled.indices.map { $0 == 0 ? filled[0] : max(0, filled[$0] - filled[$0 - 1]) }
    }
}

/// From a Prometheus server scraping the fleet: `increase()` over the window, summed over
/// every instance.
struct PrometheusReadings: CohortReadings {
    let server: String

    mutating func windows(flag: String, seconds: Double) throws -> (on: DeployWindow, off: DeployWindow) {
        let range = "\(Int(seconds.rounded()))s"
        func sample(_ cohort: String) throws -> DeployWindow {
            let labels = "{flag=\"\(flag)\",cohort=\"\(cohort)\"}"
            let deliveries = try scalar("sum(increase(tickstream_cohort_messages_sent_total\(labels)[\(range)]))")
            let failures = try scalar("sum(increase(tickstream_cohort_session_failures_total\(labels)[\(range)]))")
                + scalar("sum(increase(tickstream_cohort_command_errors_total\(labels)[\(range)]))")
            let sessions = try scalar("sum(increase(tickstream_cohort_sessions_started_total\(labels)[\(range)]))")
                + scalar("sum(tickstream_cohort_sessions\(labels) offset \(range))")
            let cumulative = try vector("sum by (le) (increase(tickstream_cohort_output_wait_seconds_bucket\(labels)[\(range)]))", label: "le")
            var now = CohortSample()
            now.deliveries = deliveries
            now.failures = failures
            now.started = sessions
            now.waits = CohortSample.buckets(cumulative: cumulative.map { (Double($0.label) ?? .infinity, $0.value) })
            return CohortSample.window(now, since: nil)
        }
        return (try sample("on"), try sample("off"))
    }

    private func scalar(_ query: String) throws -> Double {
        try vector(query, label: nil).reduce(0) { $0 + $1.value }
    }

    /// An instant query's vector: each element's `label` and value.
    private func vector(_ query: String, label: String?) throws -> [(label: String, value: Double)] {
        let (status, body) = try HTTPGet.get(server + "/api/v1/query?query=" + Self.percentEncoded(query))
        guard status == 200 else { throw ToolError(message: "Prometheus answered \(status) to \(query): \(String(decoding: body.prefix(300), as: UTF8.self))") }
        return try Self.parseVector(body, label: label)
    }

    static func parseVector(_ body: [UInt8], label: String?) throws -> [(label: String, value: Double)] {
        var results: [(String, Double)] = []
        try body.withUnsafeBytes { bytes in
            var reader = JSONReader(bytes)
            try reader.readObject { reader, key in
                guard bytesEqual(key, "data") else { return try reader.skipValue() }
                try reader.readObject { reader, key in
                    guard bytesEqual(key, "result") else { return try reader.skipValue() }
                    try reader.readArray { reader, _ in
                        var name = "", value = 0.0
                        try reader.readObject { reader, key in
                            if bytesEqual(key, "metric") {
                                try reader.readObject { reader, labelKey in
                                    let text = String(decoding: try reader.readStringBytes(), as: UTF8.self)
                                    if let label, String(decoding: labelKey, as: UTF8.self) == label { name = text }
                                }
                            } else if bytesEqual(key, "value") {
                                try reader.readArray { reader, index in
                                    if index == 1 { value = Double(String(decoding: try reader.readStringBytes(), as: UTF8.self)) ?? 0 } else { try reader.skipValue() }
                                }
                            } else {
                                try reader.skipValue()
                            }
                        }
                        results.append((name, value.isFinite ? value : 0))
                    }
                }
            }
        }
        return results
    }

    static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            let unreserved = (byte >= 48 && byte <= 57) || (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122) || byte == 45 || byte == 95 || byte == 46
            out += unreserved ? String(UnicodeScalar(byte)) : "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
        }
        return out
    }
}

/// Without Prometheus: the instances' own `/metrics`, read at every check and summed; the
/// window is the difference with the reading closest to its start.
struct ScrapedReadings: CohortReadings {
    let urls: [String]
    private var history: [(time: Double, on: CohortSample, off: CohortSample)] = []

    init(urls: [String]) { self.urls = urls }

    mutating func windows(flag: String, seconds: Double) throws -> (on: DeployWindow, off: DeployWindow) {
        var on = CohortSample(), off = CohortSample()
        for url in urls {
            let (status, body) = try HTTPGet.get(url)
            guard status == 200 else { throw ToolError(message: "\(url) answered \(status)") }
            Self.add(String(decoding: body, as: UTF8.self), flag: flag, on: &on, off: &off)
        }
        let now = Double(MonotonicClock.now()) / 1e9
        history.append((now, on, off))
        history.removeAll { now - $0.time > seconds * 2 }
        let start = history.first { now - $0.time <= seconds } ?? history[0]
        let earlier = start.time == now ? nil : start
        return (CohortSample.window(on, since: earlier?.on), CohortSample.window(off, since: earlier?.off))
    }

    /// Adds one instance's cohort series to the sums.
    static func add(_ text: String, flag: String, on: inout CohortSample, off: inout CohortSample) {
        var cumulative: [String: [(Double, Double)]] = ["on": [], "off": []]
        for line in text.split(separator: "\n") where line.hasPrefix("tickstream_cohort_") {
            guard let brace = line.firstIndex(of: "{"), let close = line.firstIndex(of: "}") else { continue }
            let name = line[..<brace]
            var labels: [String: String] = [:]
            for pair in line[line.index(after: brace)..<close].split(separator: ",") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                if parts.count == 2 { labels[String(parts[0])] = String(parts[1].dropFirst().dropLast()) }
            }
            guard labels["flag"] == flag, let cohort = labels["cohort"], let value = Double(line[line.index(after: close)...].split(separator: " ").first ?? "") else { continue }
            func update(_ body: (inout CohortSample) -> Void) { if cohort == "on" { body(&on) } else { body(&off) } }
            switch name {
            case "tickstream_cohort_messages_sent_total": update { $0.deliveries += value }
            case "tickstream_cohort_session_failures_total", "tickstream_cohort_command_errors_total": update { $0.failures += value }
            case "tickstream_cohort_sessions_started_total": update { $0.started += value }
            case "tickstream_cohort_sessions": update { $0.open += value }
            case "tickstream_cohort_output_wait_seconds_bucket": cumulative[cohort, default: []].append((labels["le"].flatMap(Double.init) ?? .infinity, value))
            default: break
            }
        }
        let onWaits = CohortSample.buckets(cumulative: cumulative["on"] ?? [])
        let offWaits = CohortSample.buckets(cumulative: cumulative["off"] ?? [])
        on.waits = zip(on.waits, onWaits).map { $0 + $1 }
        off.waits = zip(off.waits, offWaits).map { $0 + $1 }
    }
}
