import Foundation
import Histogram

/// A one-page report a person can read at a glance: delivered rate per second on the left, the
/// latency percentile curve (log-scaled tail, as HdrHistogram plots it) on the right. A path
/// ending in `.svg` gets the chart alone; `.html` gets a page with the chart and the summary.
enum SVGReport {
    struct Series {
        var title: String
        var perSecond: [(t: Double, rate: Double)]
        var latency: Histogram<UInt64>
        /// The printed summary, shown under the chart in an HTML report.
        var summary: [String] = []
    }

    /// Whether `path` names a kind of report this writes.
    static func supports(_ path: String) -> Bool {
        path.hasSuffix(".svg") || path.hasSuffix(".html")
    }

    static func write(_ series: Series, to path: String) throws {
        let svg = chart(series)
        guard path.hasSuffix(".html") else {
            try svg.write(toFile: path, atomically: true, encoding: .utf8)
            return
        }
        let page = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>\(escape(series.title))</title></head>
        <body style="font-family: sans-serif; margin: 24px">
        \(svg)<pre style="font-size: 14px">\(escape(series.summary.joined(separator: "\n")))</pre>
        </body></html>

        """
        try page.write(toFile: path, atomically: true, encoding: .utf8)
    }

    private static func chart(_ series: Series) -> String {
        let width = 1100.0, height = 420.0
        var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="20" y="24" font-size="16" font-weight="bold">\(escape(series.title))</text>

        """
        svg += ratePanel(series, x: 60, y: 60, w: 440, h: 300)
        svg += latencyPanel(series, x: 620, y: 60, w: 440, h: 300)
        svg += "</svg>\n"
        return svg
    }

    private static func ratePanel(_ s: Series, x: Double, y: Double, w: Double, h: Double) -> String {
        var out = axes(x: x, y: y, w: w, h: h, title: "delivered messages/s", xLabel: "seconds since the start of the run")
        let points = s.perSecond
        guard let last = points.last else { return out }
        // The whole run, from its start (warm-up included), on round ticks.
        let time = niceScale(max(1, last.t))
        // Headroom above the peak, so a flat run is not drawn on the chart's top border.
        let rate = niceScale(max(1, (points.map(\.rate).max() ?? 1) * 1.1))
        let path = points.map { p in
            "\(fmt(x + p.t / time.top * w)),\(fmt(y + h - p.rate / rate.top * h))"
        }.joined(separator: " ")
        out += "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"\(path)\"/>\n"
        out += ticks(x: x, y: y, w: w, h: h, yScale: rate, yFormat: { formatRate($0, scale: rate) }, xScale: time,
                     xFormat: { formatDecimal($0, step: time.step) })
        let rates = points.map(\.rate).sorted()
        let median = rates[rates.count / 2]
        out += "<text x=\"\(fmt(x + 10))\" y=\"\(fmt(y + 16))\">median \(formatCount(median))/s · peak \(formatCount(rates.last!))/s over \(points.count) s</text>\n"
        return out
    }

    private static func latencyPanel(_ s: Series, x: Double, y: Double, w: Double, h: Double) -> String {
        var out = axes(x: x, y: y, w: w, h: h, title: "latency (v2, now - ts), ms", xLabel: "percentile")
        guard s.latency.totalCount > 0 else { return out }
        // x = log10(1 / (1 - p)): 0 at p0, 1 at p90, 2 at p99, 3 at p99.9, 4 at p99.99.
        let percentiles = stride(from: 0.0, through: 4.0, by: 0.05).map { 100 * (1 - pow(10, -$0)) }
        let values = percentiles.map { Double(s.latency.valueAtPercentile($0)) / 1000 }
        let scale = niceScale(max(0.001, values.max() ?? 1))
        let path = zip(percentiles, values).map { p, v in
            "\(fmt(x + log10(1 / (1 - p / 100 + 1e-12)) / 4 * w)),\(fmt(y + h - v / scale.top * h))"
        }.joined(separator: " ")
        out += "<polyline fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\" points=\"\(path)\"/>\n"
        for (label, position) in [("50%", log10(2.0)), ("90%", 1.0), ("99%", 2.0), ("99.9%", 3.0), ("99.99%", 4.0)] {
            let px = x + position / 4 * w
            out += "<line x1=\"\(fmt(px))\" y1=\"\(fmt(y + h))\" x2=\"\(fmt(px))\" y2=\"\(fmt(y + h + 5))\" stroke=\"black\"/>\n"
            out += "<text x=\"\(fmt(px))\" y=\"\(fmt(y + h + 18))\" text-anchor=\"middle\">\(label)</text>\n"
        }
        out += ticks(x: x, y: y, w: w, h: h, yScale: scale, yFormat: { formatDecimal($0, step: scale.step) }, xScale: nil, xFormat: { _ in "" })
        let p = { (q: Double) in Double(s.latency.valueAtPercentile(q)) / 1000 }
        out += "<text x=\"\(fmt(x + 10))\" y=\"\(fmt(y + 16))\">p50 \(String(format: "%.3f", p(50))) · p99 \(String(format: "%.3f", p(99))) · p99.9 \(String(format: "%.3f", p(99.9))) · max \(String(format: "%.3f", Double(s.latency.max) / 1000)) ms</text>\n"
        return out
    }

    private static func axes(x: Double, y: Double, w: Double, h: Double, title: String, xLabel: String) -> String {
        """
        <text x="\(fmt(x))" y="\(fmt(y - 12))" font-weight="bold">\(escape(title))</text>
        <line x1="\(fmt(x))" y1="\(fmt(y + h))" x2="\(fmt(x + w))" y2="\(fmt(y + h))" stroke="black"/>
        <line x1="\(fmt(x))" y1="\(fmt(y))" x2="\(fmt(x))" y2="\(fmt(y + h))" stroke="black"/>
        <text x="\(fmt(x + w / 2))" y="\(fmt(y + h + 36))" text-anchor="middle">\(escape(xLabel))</text>

        """
    }

    private static func ticks(x: Double, y: Double, w: Double, h: Double, yScale: NiceScale, yFormat: (Double) -> String,
                              xScale: NiceScale?, xFormat: (Double) -> String) -> String {
        var out = ""
        for value in yScale.ticks {
            let py = y + h - value / yScale.top * h
            out += "<line x1=\"\(fmt(x - 5))\" y1=\"\(fmt(py))\" x2=\"\(fmt(x + w))\" y2=\"\(fmt(py))\" stroke=\"#ddd\"/>\n"
            out += "<text x=\"\(fmt(x - 8))\" y=\"\(fmt(py + 4))\" text-anchor=\"end\">\(yFormat(value))</text>\n"
        }
        if let xScale {
            for value in xScale.ticks {
                let px = x + value / xScale.top * w
                out += "<line x1=\"\(fmt(px))\" y1=\"\(fmt(y + h))\" x2=\"\(fmt(px))\" y2=\"\(fmt(y + h + 5))\" stroke=\"black\"/>\n"
                out += "<text x=\"\(fmt(px))\" y=\"\(fmt(y + h + 18))\" text-anchor=\"middle\">\(xFormat(value))</text>\n"
            }
        }
        return out
    }

    /// An axis from 0 to a round top, in round steps of 1, 2, 2.5 or 5 × 10^k (at most 6 ticks).
    struct NiceScale: Equatable {
        var top: Double
        var step: Double
        var ticks: [Double] { stride(from: 0, through: top + step / 2, by: step).map { $0 } }
    }

    static func niceScale(_ maximum: Double) -> NiceScale {
        let raw = maximum / 5
        let magnitude = pow(10, floor(log10(raw)))
        let residual = raw / magnitude
        let step = (residual <= 1 ? 1 : residual <= 2 ? 2 : residual <= 2.5 ? 2.5 : residual <= 5 ? 5 : 10) * magnitude
        return NiceScale(top: (maximum / step).rounded(.up) * step, step: step)
    }

    /// Tick labels of a rate axis: in k or M when the top is that large, as precise as the step.
    static func formatRate(_ value: Double, scale: NiceScale) -> String {
        let (divisor, suffix) = scale.top >= 1e6 ? (1e6, "M") : scale.top >= 1e3 ? (1e3, "k") : (1, "")
        return formatDecimal(value / divisor, step: scale.step / divisor) + suffix
    }

    /// As many decimals as the step needs to be written exactly (0.25: two), no more.
    static func formatDecimal(_ value: Double, step: Double) -> String {
        var decimals = 0
        while decimals < 4, abs(step * pow(10, Double(decimals)) - (step * pow(10, Double(decimals))).rounded()) > 1e-9 { decimals += 1 }
        return String(format: "%.\(decimals)f", value)
    }

    /// 412345 -> "412,345".
    private static func formatCount(_ value: Double) -> String {
        let digits = String(Int(value.rounded()))
        var out = ""
        for (i, c) in digits.reversed().enumerated() {
            if i > 0 && i % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return String(out.reversed())
    }

    private static func fmt(_ value: Double) -> String { String(format: "%.1f", value) }

    private static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
    }
}
