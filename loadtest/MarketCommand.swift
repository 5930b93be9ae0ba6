import Connection
import ArgumentParser
import EventLoop
import Foundation
import Histogram

/// `loadtest market` (the default): subscribers on /ws, measured.
struct MarketCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "market",
        abstract: "Subscriber load on /ws: delivery rate, latency percentiles, seq gaps."
    )

    @Option(help: "Target /ws URL, ws:// or wss:// (IP literal or localhost).")
    var url = "ws://127.0.0.1:8080/ws"
    @OptionGroup(title: "TLS (wss://)") var tls: TLSClientOptions
    @Flag(help: "Offer permessage-deflate on every connection (the gateway compresses each update once per variant).")
    var deflate = false
    @Option(help: "Subscriber connections.")
    var conns = 100
    @Option(help: "Share of connections offering v2 (the rest offer v1).")
    var v2Fraction = 0.5
    @Option(help: "Symbols per connection; connection i takes (i*subs+k) mod symbols (see --subs-pattern).")
    var subs = 10

    @Option(help: ArgumentHelp("contiguous: a connection's symbols are neighbours in the round-robin and tick together (W1); random: the same slots through a fixed permutation, scattered (W2).", valueName: "contiguous|random"))
    var subsPattern: SubscriptionLayout.Pattern = .contiguous

    @Option(help: "Seed of the --subs-pattern random permutation (the same seed, the same layout).")
    var seed: UInt64 = 1
    @Option(help: "Symbol universe SYM0000...SYM<n-1> (run the gateway with --sim-symbols n).")
    var symbols = 500
    @Option(help: "v2 book depth requested.")
    var depth = 5
    @Option(help: "Seconds before measuring.")
    var warmup = 3.0
    @Option(help: "Seconds measured.")
    var duration = 10.0
    @Option(help: "Dials in flight at once.")
    var dialConcurrency = 200
    @Option(help: "Retries per connection when a dial fails.")
    var dialRetries = 3
    @Option(help: "Spread client source addresses over 127.0.0.1...127.0.0.<n> (more than ~28k connections need n > 1).")
    var sourceAddresses = 1
    @Option(help: "Publish this many updates/s to /feed (needs --publisher-token); 0 uses the gateway's simulator.")
    var publishRate = 0
    @Option(help: "Publisher token for /feed.")
    var publisherToken: String?
    @Option(help: "Deliveries/s wanted: computes --publish-rate from the subscription layout.")
    var targetRate: Int?
    @Option(help: "PID of the gateway, to report its CPU over the measured window.")
    var gatewayPid: Int32?
    @Option(help: "Write every figure as JSON here.")
    var json: String?
    @Option(help: "Exit 1 when the measured rate is below this (deliveries/s).")
    var expectRate: Double?
    @Option(help: "Exit 1 when p99 latency (ms) is above this.")
    var p99Limit: Double?
    @Flag(help: "No per-second lines.")
    var quiet = false
    @Flag(help: "Raise the publish rate step by step (x1.25 from --publish-rate or --target-rate) until p99 exceeds --p99-limit, gaps appear or delivery falls short; report the highest sustained step. Needs --publisher-token.")
    var ramp = false
    @Option(help: "Seconds per ramp step.")
    var stepSeconds = 5.0
    @Flag(help: "Follow the drain protocol: on the v2 reconnect notice or Close 1001, reconnect after retry_after_ms (100-1000 ms without one) with jitter and resubscribe; report reconnect times, clients that never came back, and seq continuity against the snapshots.")
    var reconnect = false
    @Flag(help: "v2 subscriptions ask for deltas (protocols/v2.md): compare --wire-bytes per delivery with a run without.")
    var delta = false
    @Option(name: .customLong("max-rate"), help: ArgumentHelp("v2 subscriptions ask for at most N updates a second per symbol; seq jumps then count as capped, not as gaps.", valueName: "N"))
    var maxRate: Int?
    @Option(help: ArgumentHelp("Run this shell command (a deploy) during the measured window; the run fails if it exits non-zero.", valueName: "command"))
    var during: String?
    @Option(help: "Seconds into the measured window at which --during starts (default: a third of --duration).")
    var duringAfter: Double?
    @Option(help: "Write a report here: PATH.svg (rate over time, latency percentile curve) or PATH.html (the same chart and the summary).")
    var report: String?

    func validate() throws {
        guard let target = WebSocketURL(url), target.path == "/ws" || !target.path.isEmpty else {
            throw ValidationError("--url must look like ws://127.0.0.1:8080/ws or wss://localhost:8443/ws")
        }
        _ = try tls.make(for: target)
        guard conns > 0, subs > 0, symbols > 0, subs <= symbols else { throw ValidationError("need conns > 0 and 0 < subs <= symbols") }
        guard (0...1).contains(v2Fraction) else { throw ValidationError("--v2-fraction must be 0...1") }
        guard (1...50).contains(depth) else { throw ValidationError("--depth must be 1...50") }
        if let maxRate, !(1...1000).contains(maxRate) { throw ValidationError("--max-rate must be 1...1000") }
        guard (1...254).contains(sourceAddresses) else { throw ValidationError("--source-addresses must be 1...254") }
        if publishRate > 0 || targetRate != nil || ramp {
            guard publisherToken != nil else { throw ValidationError("--publish-rate, --target-rate and --ramp need --publisher-token") }
        }
        if ramp { guard effectivePublishRate > 0 else { throw ValidationError("--ramp starts from --publish-rate or --target-rate") } }
        if let duringAfter, duringAfter < 0 || duringAfter > duration { throw ValidationError("--during-after must be 0...--duration") }
        if duringAfter != nil && during == nil { throw ValidationError("--during-after needs --during") }
        if let report {
            guard SVGReport.supports(report) else { throw ValidationError("--report must end in .svg or .html") }
            // Found out now, not after a ten-minute run.
            if let problem = OutputFile.problem(writing: report) { throw ValidationError("--report \(report) cannot be written: \(problem)") }
        }
        if let json, let problem = OutputFile.problem(writing: json) { throw ValidationError("--json \(json) cannot be written: \(problem)") }
    }

    /// Updates/s that yield `targetRate` deliveries/s: each update reaches conns*subs/symbols subscribers.
    var effectivePublishRate: Int {
        guard let targetRate else { return publishRate }
        return max(1, Int((Double(targetRate) * Double(symbols) / Double(conns * subs)).rounded()))
    }

    func run() throws {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        let loop = try EventLoop()
        let options = MarketLoad.Options(
            target: WebSocketURL(url)!, connections: conns, v2Fraction: v2Fraction, subsPerConnection: subs,
            symbols: symbols, depth: depth, warmup: warmup, duration: duration, dialConcurrency: dialConcurrency,
            dialRetries: dialRetries, sourceAddresses: sourceAddresses, publishRate: effectivePublishRate,
            publisherToken: publisherToken, gatewayPID: gatewayPid, quiet: quiet, tls: try tls.make(for: WebSocketURL(url)!),
            compression: deflate ? CompressionWorkspace() : nil, reconnect: reconnect, delta: delta, maxRate: maxRate,
            layout: SubscriptionLayout(connections: conns, perConnection: subs, symbols: symbols, pattern: subsPattern, seed: seed))
        let load = MarketLoad(loop: loop, options: options)
        load.start()
        if ramp {
            try runRamp(load)
            return
        }
        let report = load.measure(seconds: duration, during: during, after: duringAfter ?? duration / 3)
        load.finish()
        printSummary(report)
        if let json { try writeJSON(report, to: json) }
        if let path = self.report {
            try SVGReport.write(.init(title: summaryTitle, perSecond: report.perSecond.map { ($0.t, $0.rate) }, latency: report.latency,
                                      summary: summaryLines(report)), to: path)
            print("  report          \(path)")
        }
        var failed: [String] = []
        if let expectRate, report.rate < expectRate { failed.append(String(format: "rate %.0f/s below --expect-rate %.0f", report.rate, expectRate)) }
        let p99 = Double(report.latency.totalCount > 0 ? report.latency.valueAtPercentile(99.0) : 0) / 1000
        if let p99Limit, p99 > p99Limit { failed.append(String(format: "p99 %.3f ms above --p99-limit %.3f", p99, p99Limit)) }
        if report.failedDials > 0 { failed.append("\(report.failedDials) failed dials") }
        if report.protocolMismatches > 0 { failed.append("\(report.protocolMismatches) protocol mismatches") }
        if report.unexpectedCloses > 0 { failed.append("\(report.unexpectedCloses) unexpected closes") }
        failed += Self.dataFailures(messages: report.messages, silent: load.silentSymbols, symbols: symbols)
        if let status = report.duringStatus, status != 0 { failed.append("--during exited \(status)") }
        if let back = report.reconnection {
            if back.away > 0 { failed.append("\(back.away) clients never came back") }
            if back.abruptCloses > 0 { failed.append("\(back.abruptCloses) connections ended without notice or Close 1001") }
            if back.sequenceRestarts > 0 { failed.append("\(back.sequenceRestarts) snapshots went back in seq within the same epoch: a rewind") }
        }
        if let publisher = report.publisher {
            if let failure = publisher.failure { failed.append("publisher: \(failure)") }
            if publisher.errors > 0 { failed.append("publisher: \(publisher.errors) error replies") }
        }
        if !failed.isEmpty {
            print("FAILED: " + failed.joined(separator: "; "))
            throw ExitCode(1)
        }
    }

    /// A run that measured nothing measured nothing: say why rather than report 0/s and pass.
    static func dataFailures(messages: UInt64, silent: [String], symbols: Int) -> [String] {
        var failed: [String] = []
        if messages == 0 {
            failed.append("no updates arrived in the measured window: does the gateway serve SYM0000...SYM\(String(format: "%04d", symbols - 1))? "
                          + "Start it with --sim-symbols \(symbols), or publish with --publish-rate and --publisher-token")
        }
        if !silent.isEmpty && messages > 0 {
            let shown = silent.prefix(5).joined(separator: ", ") + (silent.count > 5 ? ", ..." : "")
            failed.append("\(silent.count) subscribed symbols never received an update (\(shown)): the gateway does not send them")
        }
        return failed
    }

    private var summaryTitle: String {
        "Tickstream loadtest: \(conns) connections, \(Int(v2Fraction * 100))% v2 depth \(depth)\(variantText), \(subs) of \(symbols) symbols each"
    }

    /// Steps the publish rate up by 25% until a step fails; reports the highest that held.
    private func runRamp(_ load: MarketLoad) throws {
        let limit = p99Limit ?? 5.0
        let fanOut = Double(conns * subs) / Double(symbols)
        var rate = effectivePublishRate
        var best: (publish: Int, report: MarketLoad.Report)?
        var steps: [(Double, Double, Bool)] = []
        var stepLines: [String] = []
        var lastReport: MarketLoad.Report?
        while true {
            load.setPublishRate(rate)
            let step = load.measure(seconds: stepSeconds)
            lastReport = step
            let p99 = percentile(step.latency, 99)
            let expected = Double(rate) * fanOut
            let passed = step.gaps == 0 && p99 <= limit && step.rate >= expected * 0.95 && step.unexpectedCloses == 0
                && step.publisher?.failure == nil
            steps.append((step.rate, p99, passed))
            stepLines.append(String(format: "ramp: publish %7d/s -> delivered %9.0f/s (expected %9.0f), p99 %.3f ms, gaps %llu: %@",
                                    rate, step.rate, expected, p99, step.gaps, passed ? "held" : "failed"))
            print(stepLines.last!)
            guard passed else { break }
            best = (rate, step)
            rate = Int(Double(rate) * 1.25)
        }
        load.finish()
        if let best {
            print(String(format: "ramp: highest sustained: %.0f deliveries/s (publish %d/s) with p99 %.3f ms <= %.1f ms and 0 gaps",
                         best.report.rate, best.publish, percentile(best.report.latency, 99), limit))
            printSummary(best.report)
            if let json { try writeJSON(best.report, to: json, ramp: steps) }
        } else {
            print("ramp: even the first step failed")
        }
        if let path = report, let shown = best?.report ?? lastReport {
            try SVGReport.write(.init(title: summaryTitle + " (ramp)", perSecond: load.allSeconds.map { ($0.t, $0.rate) },
                                      latency: shown.latency, summary: stepLines + summaryLines(shown)), to: path)
            print("  report          \(path)")
        }
        if best == nil { throw ExitCode(1) }
    }

    private func percentile(_ h: Histogram<UInt64>, _ p: Double) -> Double {
        h.totalCount > 0 ? Double(h.valueAtPercentile(p)) / 1000 : 0
    }

    private func printSummary(_ r: MarketLoad.Report) {
        print("")
        for line in summaryLines(r) { print(line) }
    }

    /// What the v2 subscriptions ask for beyond depth, for titles.
    private var variantText: String {
        (delta ? ", deltas" : "") + (maxRate.map { ", at most \($0)/s per symbol" } ?? "")
    }

    private func summaryLines(_ r: MarketLoad.Report) -> [String] {
        let h = r.latency
        var lines = [
            "Tickstream loadtest: \(conns) connections (\(Int(v2Fraction * 100))% v2, depth \(depth)\(variantText)), \(subs) symbols each of \(symbols), "
                + (effectivePublishRate > 0 ? "publishing \(effectivePublishRate) updates/s to /feed" : "gateway simulator"),
            String(format: "  measured        %.1f s", r.seconds),
            String(format: "  delivered       %.0f msgs/s  (v1 %.0f, v2 %.0f)", r.rate, Double(r.messagesV1) / r.seconds, Double(r.messagesV2) / r.seconds),
            String(format: "  bytes           %.1f MB/s of messages; on the wire %.1f bytes per delivery", Double(r.bytes) / r.seconds / 1e6,
                   r.wireBytesPerDelivery),
            String(format: "  batching        %.2f messages per client read (%.0f reads/s)", r.messagesPerRead, Double(r.reads) / r.seconds),
            String(format: "  latency (v2)    p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f ms  (%llu samples)",
                   percentile(h, 50), percentile(h, 90), percentile(h, 99), percentile(h, 99.9),
                   Double(h.totalCount > 0 ? h.max : 0) / 1000, h.totalCount),
            "  seq gaps        \(r.gaps) (updates missed: \(r.missed))" + (maxRate != nil ? "; \(r.capped) held back by --max-rate" : ""),
            r.messagesV1 + r.messagesV2 == 0 ? "  longest silence the whole run: nothing was received"
                : String(format: "  longest silence %.1f ms without an update, over every client", r.longestGapMilliseconds),
            "  connections     \(r.open) open, \(r.failedDials) failed dials, \(r.unexpectedCloses) unexpected closes, "
                + "\(r.protocolMismatches) protocol mismatches, \(r.errors) error replies"
                + (r.allOpenMilliseconds.map { String(format: "; all open %.0f ms after the first dial (%.0f/s)", $0, Double(conns) / ($0 / 1000)) } ?? ""),
            String(format: "  cpu             loadtest %.0f%% of a core", r.loadtestCPU * 100)
                + (r.gatewayCPU.map { String(format: ", gateway %.0f%% of a core (%.2f CPU-s per million deliveries)", $0 * 100, $0 * 1e6 / r.rate) } ?? ""),
        ]
        if let publisher = r.publisher {
            lines.append("  publisher       \(publisher.published) updates published, \(publisher.errors) error replies"
                         + (publisher.failure.map { ", FAILED: \($0)" } ?? ""))
        }
        if let back = r.reconnection {
            let t = back.times
            let p = { (q: Double) in t.totalCount > 0 ? t.valueAtPercentile(q) : 0 }
            lines.append("  reconnects      \(back.reconnects), time p50 \(p(50)) ms, p99 \(p(99)) ms, max \(t.totalCount > 0 ? t.max : 0) ms; "
                         + "\(back.away) never came back, \(back.abruptCloses) abrupt closes")
            lines.append("  continuity      \(back.coveredBySnapshot) updates covered by snapshots, \(back.sequenceRestarts) seq rewinds, "
                         + "\(back.resyncs) resynced in a new epoch")
            if let storm = back.stormMilliseconds {
                lines.append(String(format: "  storm           every client back with its snapshots %.0f ms after the first left; %.0f reconnects/s absorbed",
                                    storm, back.reconnectsPerSecond ?? 0))
            }
        }
        if let status = r.duringStatus { lines.append("  during          exited \(status)") }
        if r.loadtestCPU > 0.9 { lines.append("  note            the load generator used over 90% of its core: it may be the limit") }
        return lines
    }

    private func writeJSON(_ r: MarketLoad.Report, to path: String, ramp steps: [(Double, Double, Bool)] = []) throws {
        var fields: [String: Any] = [
            "connections": conns, "v2_fraction": v2Fraction, "subs": subs, "symbols": symbols, "depth": depth,
            "publish_rate": effectivePublishRate, "seconds": r.seconds, "rate": r.rate,
            "rate_v1": Double(r.messagesV1) / r.seconds, "rate_v2": Double(r.messagesV2) / r.seconds,
            "bytes_per_second": Double(r.bytes) / r.seconds, "wire_bytes_per_delivery": r.wireBytesPerDelivery,
            "delta": delta, "max_rate": maxRate ?? 0, "capped": r.capped, "gaps": r.gaps, "missed": r.missed, "longest_gap_ms": r.longestGapMilliseconds,
            "messages_per_read": r.messagesPerRead, "subs_pattern": subsPattern.rawValue, "seed": seed,
            "open": r.open, "all_open_ms": r.allOpenMilliseconds ?? NSNull(), "failed_dials": r.failedDials, "unexpected_closes": r.unexpectedCloses,
            "protocol_mismatches": r.protocolMismatches, "error_replies": r.errors,
            "latency_ms": ["p50": percentile(r.latency, 50), "p90": percentile(r.latency, 90), "p99": percentile(r.latency, 99),
                           "p99.9": percentile(r.latency, 99.9), "max": Double(r.latency.totalCount > 0 ? r.latency.max : 0) / 1000,
                           "samples": r.latency.totalCount],
            "loadtest_cpu": r.loadtestCPU,
            "per_second": r.perSecond.map { ["t": $0.t, "rate": $0.rate, "p99_ms": Double($0.p99) / 1000] },
        ]
        if !steps.isEmpty {
            fields["ramp"] = steps.map { ["rate": $0.0, "p99_ms": $0.1, "held": $0.2] }
        }
        if let publisher = r.publisher {
            fields["publisher"] = ["published": publisher.published, "error_replies": publisher.errors,
                                   "failure": publisher.failure ?? NSNull()] as [String: Any]
        }
        if let back = r.reconnection {
            let p = { (q: Double) in back.times.totalCount > 0 ? back.times.valueAtPercentile(q) : 0 }
            fields["reconnection"] = ["reconnects": back.reconnects, "away": back.away, "abrupt_closes": back.abruptCloses,
                                      "time_p50_ms": p(50), "time_p99_ms": p(99), "rewinds": back.sequenceRestarts,
                                      "storm_ms": back.stormMilliseconds ?? NSNull(),
                                      "reconnects_per_second": back.reconnectsPerSecond ?? NSNull()] as [String: Any]
        }
        if let cpu = r.gatewayCPU {
            fields["gateway_cpu"] = cpu
            fields["gateway_cpu_seconds_per_million"] = cpu * 1e6 / r.rate
        }
        let data = try JSONSerialization.data(withJSONObject: fields, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: path))
    }
}

extension SubscriptionLayout.Pattern: ExpressibleByArgument {}
