import EventLoop

/// Writes the Prometheus text exposition format (version 0.0.4). Scrapes are rare and cold,
/// so this builds a String; the counters it reads are the loop's plain integers.
struct PrometheusText {
    private(set) var text = ""

    mutating func header(_ name: String, _ type: String, _ help: String) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
    }

    mutating func sample(_ name: String, _ labels: [(String, String)] = [], _ value: some Numeric & CustomStringConvertible) {
        text += name
        if !labels.isEmpty {
            text += "{" + labels.map { "\($0.0)=\"\(Self.escape($0.1))\"" }.joined(separator: ",") + "}"
        }
        text += " \(value)\n"
    }

    /// One metric with a single sample.
    mutating func metric(_ name: String, _ type: String, _ help: String, _ value: some Numeric & CustomStringConvertible) {
        header(name, type, help)
        sample(name, [], value)
    }

    /// A histogram of durations, in seconds with cumulative buckets.
    mutating func histogram(_ name: String, _ help: String, _ durations: DurationHistogram) {
        header(name, "histogram", help)
        let counts = durations.bucketCounts
        var cumulative: UInt64 = 0
        for (index, bound) in DurationHistogram.bucketBounds.enumerated() {
            cumulative += counts[index]
            sample(name + "_bucket", [("le", String(Self.seconds(bound)))], cumulative)
        }
        cumulative += counts[DurationHistogram.bucketBounds.count]
        sample(name + "_bucket", [("le", "+Inf")], cumulative)
        sample(name + "_sum", [], Self.seconds(durations.totalNanoseconds))
        sample(name + "_count", [], durations.count)
    }

    /// A histogram of durations with one series per label set, from bucket counts (not
    /// cumulative) and the sum of each series in nanoseconds.
    mutating func histogram(_ name: String, _ help: String, series: [(labels: [(String, String)], counts: [UInt64], sumNanoseconds: UInt64)]) {
        header(name, "histogram", help)
        for one in series {
            var cumulative: UInt64 = 0
            for (index, bound) in DurationHistogram.bucketBounds.enumerated() {
                cumulative += one.counts[index]
                sample(name + "_bucket", one.labels + [("le", String(Self.seconds(bound)))], cumulative)
            }
            cumulative += one.counts[DurationHistogram.bucketBounds.count]
            sample(name + "_bucket", one.labels + [("le", "+Inf")], cumulative)
            sample(name + "_sum", one.labels, Self.seconds(one.sumNanoseconds))
            sample(name + "_count", one.labels, cumulative)
        }
    }

    static func escape(_ value: String) -> String {
        var out = ""
        for c in value {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }

    /// Seconds from nanoseconds, as Prometheus expects.
    static func seconds(_ nanoseconds: UInt64) -> Double { Double(nanoseconds) / 1e9 }
}
