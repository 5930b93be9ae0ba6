import Connection
import ArgumentParser
import EventLoop
import Foundation

/// `loadtest`: drives a running gateway with many WebSocket connections from one process,
/// on the project's own event loop and codec (client role, masked frames).
@main
struct LoadTestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loadtest",
        abstract: "Load generator for the Tickstream gateway.",
        subcommands: [MarketCommand.self, EchoCommand.self, FanOutCommand.self, AutobahnCommand.self],
        defaultSubcommand: MarketCommand.self
    )
}

struct EchoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo",
        abstract: "Round trips through /echo with pipelining: raw framing and socket throughput."
    )

    @Option(help: "Target, e.g. ws://127.0.0.1:8080/echo or wss://localhost:8443/echo (IP literal or localhost).")
    var url = "ws://127.0.0.1:8080/echo"
    @OptionGroup(title: "TLS (wss://)") var tls: TLSClientOptions
    @Flag(help: "Offer permessage-deflate (echoes then travel compressed both ways).")
    var deflate = false
    @Option(help: "Connections.")
    var conns = 4
    @Option(help: "Messages in flight per connection.")
    var pipeline = 64
    @Option(help: "Payload bytes per message.")
    var size = 64
    @Option(help: "Seconds before measuring starts.")
    var warmup = 2.0
    @Option(help: "Seconds measured.")
    var duration = 10.0
    @Option(help: "PID of the gateway, to report its CPU use over the same window.")
    var gatewayPid: Int32?
    @Option(help: "Write the figures as JSON to this path.")
    var json: String?

    func validate() throws {
        guard let target = WebSocketURL(url) else { throw ValidationError("--url must look like ws://127.0.0.1:8080/echo") }
        _ = try tls.make(for: target)
        guard conns > 0, pipeline > 0, size >= 0, duration > 0, warmup >= 0 else {
            throw ValidationError("--conns and --pipeline must be positive, --size and --warmup non-negative, --duration positive")
        }
    }

    func run() throws {
        let loop = try EventLoop()
        let load = EchoLoad(loop: loop, options: .init(target: WebSocketURL(url)!, connections: conns, pipeline: pipeline,
                                                       messageBytes: size, warmup: warmup, duration: duration, gatewayPID: gatewayPid,
                                                       tls: try tls.make(for: WebSocketURL(url)!),
                                                       compression: deflate ? CompressionWorkspace() : nil))
        let report = load.run()
        print(String(format: "echo: %.0f round trips/s over %.1fs (%llu echoes), %d connections open, %d failures, %llu wrong echoes",
                     report.echoesPerSecond, report.seconds, report.echoes, report.connectionsOpen, report.failures, report.wrongEchoes))
        print(String(format: "cpu: loadtest %.0f%% of a core", report.clientCPU * 100)
              + (report.gatewayCPU.map { String(format: ", gateway %.0f%% of a core", $0 * 100) } ?? ""))
        if let json {
            var fields: [String: Any] = [
                "echoes_per_second": report.echoesPerSecond, "echoes": report.echoes, "seconds": report.seconds,
                "connections_open": report.connectionsOpen, "failures": report.failures, "wrong_echoes": report.wrongEchoes,
                "loadtest_cpu": report.clientCPU, "conns": conns, "pipeline": pipeline, "size": size,
            ]
            if let cpu = report.gatewayCPU { fields["gateway_cpu"] = cpu }
            let data = try JSONSerialization.data(withJSONObject: fields, options: [.prettyPrinted, .sortedKeys])
            try data.write(to: URL(fileURLWithPath: json))
        }
        if report.failures > 0 || report.wrongEchoes > 0 { throw ExitCode(1) }
    }
}
