import ArgumentParser
import Auth
import Bus
import EventLoop
import Gateway
import Glibc
import Logging
import MarketData
import NATS
import TLS

/// `gateway`: flags (or GATEWAY_* environment variables) -> GatewayConfiguration -> run.
@main
struct GatewayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway",
        abstract: "Tickstream: a real-time WebSocket gateway for market data.",
        discussion: """
        Every option can also be set by an environment variable: GATEWAY_ and the option's \
        name in capitals with underscores (GATEWAY_PORT for --port, GATEWAY_REUSE_PORT=true \
        for --reuse-port). A flag on the command line wins over the environment.
        """,
        version: "tickstream gateway \(BuildInfo.version) (Swift \(BuildInfo.swiftVersion))"
    )

    @OptionGroup(title: "Listener") var listener: ListenerOptions
    @OptionGroup(title: "TLS") var tls: TLSOptions
    @OptionGroup(title: "Authentication (/ws)") var auth: AuthOptions
    @OptionGroup(title: "Limits") var limits: LimitOptions
    @OptionGroup(title: "Liveness") var liveness: LivenessOptions
    @OptionGroup(title: "Compression") var compression: CompressionOptions
    @OptionGroup(title: "Market data") var market: MarketOptions
    @OptionGroup(title: "Bus (a fleet fed through NATS)") var bus: BusOptions
    @OptionGroup(title: "Health and draining") var operations: OperationsOptions
    @OptionGroup(title: "Logging") var logging: LoggingOptions

    func validate() throws {
        guard SocketAddress(host: listener.host, port: 0) != nil else {
            throw ValidationError("--host must be an IPv4 or IPv6 literal (a name is not resolved), got \(listener.host)")
        }
        guard (tls.certificate == nil) == (tls.key == nil) else {
            throw ValidationError("--tls-cert and --tls-key go together: give both for TLS, or neither")
        }
        if tls.keyPasswordFile != nil && tls.key == nil {
            throw ValidationError("--tls-key-password-file needs --tls-key")
        }
        guard (0...65535).contains(listener.port) else { throw ValidationError("--port must be 0...65535, got \(listener.port)") }
        for (flag, value) in [("--max-message-bytes", limits.maxMessageBytes), ("--feed-max-message-bytes", limits.feedMaxMessageBytes),
                              ("--echo-max-message-bytes", limits.echoMaxMessageBytes)] where !(125...(1 << 30)).contains(value) {
            throw ValidationError("\(flag) must be 125...1073741824, got \(value)")
        }
        guard (0...1_000_000).contains(limits.messageRate), (1...1_000_000).contains(limits.messageBurst) else {
            throw ValidationError("--message-rate must be 0...1000000 (0: no limit) and --message-burst 1...1000000")
        }
        if let max = limits.maxConnections, !(1...10_000_000).contains(max) {
            throw ValidationError("--max-connections must be 1...10000000, got \(max)")
        }
        guard (0...10_000_000).contains(limits.maxConnectionsPerAddress) else {
            throw ValidationError("--max-connections-per-address must be 0...10000000 (0: no limit), got \(limits.maxConnectionsPerAddress)")
        }
        if let origins = limits.allowedOriginList {
            do { _ = try OriginPolicy(origins) } catch { throw ValidationError("--allowed-origins: \(error)") }
        }
        for (flag, value) in [("--ping-interval", liveness.pingInterval), ("--idle-timeout", liveness.idleTimeout),
                              ("--tcp-keepalive", liveness.tcpKeepalive)] where !(0...86_400).contains(value) {
            throw ValidationError("\(flag) must be 0...86400 seconds (0: off), got \(value)")
        }
        if liveness.idleTimeout > 0 && liveness.pingInterval > 0 && liveness.idleTimeout <= liveness.pingInterval {
            throw ValidationError("--idle-timeout (\(liveness.idleTimeout)) must be longer than --ping-interval (\(liveness.pingInterval)), or a client is closed before it could answer a ping")
        }
        if let port = listener.adminPort {
            guard (0...65535).contains(port) else { throw ValidationError("--admin-port must be 0...65535, got \(port)") }
            guard SocketAddress(host: listener.adminHost, port: 0) != nil else {
                throw ValidationError("--admin-host must be an IPv4 or IPv6 literal, got \(listener.adminHost)")
            }
            if port != 0 && port == listener.port { throw ValidationError("--admin-port must differ from --port") }
        }
        guard limits.maxHeaderBytes >= 256, limits.maxHeaderBytes <= 1 << 20 else {
            throw ValidationError("--max-header-bytes must be 256...1048576, got \(limits.maxHeaderBytes)")
        }
        guard (0...1 << 30).contains(compression.deflateMinBytes) else {
            throw ValidationError("--deflate-min-bytes must be 0...1073741824, got \(compression.deflateMinBytes)")
        }
        guard (4096...1 << 30).contains(limits.maxQueueBytes) else {
            throw ValidationError("--max-queue-bytes must be 4096...1073741824, got \(limits.maxQueueBytes)")
        }
        guard (0...1_000_000).contains(limits.flushInterval) else {
            throw ValidationError("--flush-interval must be 0...1000000 microseconds, got \(limits.flushInterval)")
        }
        guard limits.handshakeTimeout > 0, limits.closeTimeout > 0 else {
            throw ValidationError("--handshake-timeout and --close-timeout must be positive")
        }
        guard market.slowConsumerTimeout > 0 else { throw ValidationError("--slow-consumer-timeout must be positive") }
        guard (1...100_000).contains(market.maxSubscriptions) else {
            throw ValidationError("--max-subscriptions must be 1...100000, got \(market.maxSubscriptions)")
        }
        guard (1...10_000_000).contains(market.maxSymbols) else {
            throw ValidationError("--max-symbols must be 1...10000000, got \(market.maxSymbols)")
        }
        let listed = try market.simulatorSymbols()
        let simulated = listed.isEmpty ? SimulatedMarket.defaultSymbols.count : listed.count
        if simulatorRate > 0 && simulated > market.maxSymbols {
            throw ValidationError("the simulator needs \(simulated) symbols, more than --max-symbols \(market.maxSymbols)")
        }
        guard (0...10_000_000).contains(simulatorRate) else { throw ValidationError("--sim-rate must be 0...10000000, got \(simulatorRate)") }
        try bus.validate(simulatorTarget: market.simTarget, simulatorRateGiven: market.simRate ?? 0)
        if let secret = auth.jwtSecret, secret.utf8.count < 32 {
            throw ValidationError("--jwt-secret must be at least 32 bytes for HS256 (RFC 7518 §3.2), got \(secret.utf8.count)")
        }
        for (flag, token) in [("--publisher-token", market.publisherToken), ("--admin-token", operations.adminToken)] {
            if let token, token.isEmpty || token.contains(where: { $0 == " " || $0.isNewline }) {
                throw ValidationError("\(flag) must be non-empty, without spaces or newlines")
            }
        }
        guard operations.drainGrace >= 0, operations.drainDuration >= 0, operations.drainTimeout > 0 else {
            throw ValidationError("--drain-grace and --drain-duration must be >= 0 and --drain-timeout > 0")
        }
        guard operations.drainTimeout >= operations.drainGrace + operations.drainDuration else {
            throw ValidationError("--drain-timeout (\(operations.drainTimeout)) must be at least --drain-grace + --drain-duration (\(operations.drainGrace + operations.drainDuration))")
        }
        guard operations.feedStaleAfter > 0, operations.maxLoopLag > 0 else {
            throw ValidationError("--feed-stale-after and --max-loop-lag must be positive")
        }
        if operations.requireFeed && market.publisherToken == nil && bus.bus == nil {
            throw ValidationError("--require-feed needs --publisher-token or --bus (where the feed comes in)")
        }
        if operations.handover == .connections && operations.takeover == nil {
            throw ValidationError("--handover connections needs --takeover (the running instance to take them from)")
        }
        if let path = operations.controlSocket ?? operations.takeover, path.utf8.count > 100 {
            throw ValidationError("Unix socket paths are limited to 100 bytes")
        }
    }

    /// Simulated updates per second: as given, else 1000 without a bus, and off with one unless
    /// this instance is the one simulating into it (`--sim-target bus`).
    var simulatorRate: Int {
        market.simRate ?? (bus.bus != nil && market.simTarget == .local ? 0 : 1000)
    }

    func run() throws {
        let level = logging.logLevel
        let json = logging.logFormat == .json
        LoggingSystem.bootstrap { label in
            if json {
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var settings = GatewayConfiguration()
        settings.host = listener.host
        settings.port = listener.port
        settings.reusePort = listener.reusePort
        settings.echo = listener.echo
        settings.web = listener.web == .on
        settings.tlsCertificatePath = tls.certificate
        settings.tlsKeyPath = tls.key
        settings.tlsKeyPasswordPath = tls.keyPasswordFile
        settings.jwtSecret = auth.jwtSecret
        settings.jwtPublicKeyPath = auth.jwtPublicKey
        settings.adminPort = listener.adminPort
        settings.adminHost = listener.adminHost
        settings.maxMessageBytes = limits.maxMessageBytes
        settings.feedMaxMessageBytes = limits.feedMaxMessageBytes
        settings.echoMaxMessageBytes = limits.echoMaxMessageBytes
        settings.messageRate = limits.messageRate == 0 ? nil : limits.messageRate
        settings.messageBurst = limits.messageBurst
        settings.maxConnections = limits.maxConnections
        settings.maxConnectionsPerAddress = limits.maxConnectionsPerAddress == 0 ? nil : limits.maxConnectionsPerAddress
        settings.allowedOrigins = limits.allowedOriginList
        settings.pingInterval = liveness.pingInterval
        settings.idleTimeout = liveness.idleTimeout
        settings.tcpKeepalive = liveness.tcpKeepalive
        settings.maxHeaderBytes = limits.maxHeaderBytes
        settings.maxQueueBytes = limits.maxQueueBytes
        settings.deflate = compression.deflate == .on
        settings.deflateMinBytes = compression.deflateMinBytes
        settings.handshakeTimeout = limits.handshakeTimeout
        settings.closeTimeout = limits.closeTimeout
        settings.flushInterval = limits.flushInterval
        settings.slowConsumerTimeout = market.slowConsumerTimeout
        settings.maxSubscriptions = market.maxSubscriptions
        settings.maxSymbols = market.maxSymbols
        settings.simulatorSymbols = try market.simulatorSymbols()
        settings.simulatorRate = simulatorRate
        settings.simulatorTarget = market.simTarget
        settings.bus = try bus.settings()
        settings.publisherToken = market.publisherToken
        settings.requireFeed = operations.requireFeed
        settings.feedStaleAfter = operations.feedStaleAfter
        settings.maxLoopLag = operations.maxLoopLag
        settings.adminToken = operations.adminToken
        settings.drainGrace = operations.drainGrace
        settings.drainDuration = operations.drainDuration
        settings.drainTimeout = operations.drainTimeout
        settings.controlSocket = operations.controlSocket
        settings.takeover = operations.takeover
        settings.handover = operations.handover
        let logger = Logger(label: "tickstream.gateway")
        // Built before the first log line: a certificate that cannot serve stops us here.
        let gateway = try Gateway(configuration: settings, logger: logger)
        var effective = effectiveConfiguration()
        effective["max_connections"] = "\(gateway.maxConnections)"
        logger.info("starting", metadata: effective)
        try gateway.run()
    }

    /// Every setting as it will be used (tokens redacted), for the start-up log line.
    func effectiveConfiguration() -> Logger.Metadata {
        var values: Logger.Metadata = [
            "version": "\(BuildInfo.version)",
            "host": "\(listener.host)", "port": "\(listener.port)", "reuse_port": "\(listener.reusePort)", "echo": "\(listener.echo)", "web": "\(listener.web.rawValue)",
            "max_message_bytes": "\(limits.maxMessageBytes)", "feed_max_message_bytes": "\(limits.feedMaxMessageBytes)",
            "echo_max_message_bytes": "\(limits.echoMaxMessageBytes)", "message_rate": "\(limits.messageRate)",
            "message_burst": "\(limits.messageBurst)", "max_connections_per_address": "\(limits.maxConnectionsPerAddress)",
            "allowed_origins": "\(limits.allowedOrigins ?? "any")", "ping_interval": "\(liveness.pingInterval)",
            "idle_timeout": "\(liveness.idleTimeout)", "tcp_keepalive": "\(liveness.tcpKeepalive)",
            "max_header_bytes": "\(limits.maxHeaderBytes)",
            "max_queue_bytes": "\(limits.maxQueueBytes)", "deflate": "\(compression.deflate.rawValue)",
            "deflate_min_bytes": "\(compression.deflateMinBytes)", "handshake_timeout": "\(limits.handshakeTimeout)",
            "close_timeout": "\(limits.closeTimeout)", "flush_interval": "\(limits.flushInterval)", "sim_symbols": "\(market.simSymbols ?? "default list")",
            "sim_rate": "\(simulatorRate)", "sim_target": "\(market.simTarget.rawValue)", "max_subscriptions": "\(market.maxSubscriptions)", "max_symbols": "\(market.maxSymbols)",
            "slow_consumer_timeout": "\(market.slowConsumerTimeout)", "publisher_token": "\(market.publisherToken == nil ? "unset" : "set")",
            "jwt_secret": "\(auth.jwtSecret == nil ? "unset" : "set")", "jwt_public_key": "\(auth.jwtPublicKey ?? "unset")",
            "require_feed": "\(operations.requireFeed)", "feed_stale_after": "\(operations.feedStaleAfter)",
            "max_loop_lag": "\(operations.maxLoopLag)", "admin_token": "\(operations.adminToken == nil ? "unset" : "set")",
            "drain_grace": "\(operations.drainGrace)", "drain_duration": "\(operations.drainDuration)",
            "drain_timeout": "\(operations.drainTimeout)", "log_format": "\(logging.logFormat.rawValue)", "log_level": "\(logging.logLevel)",
        ]
        if let port = listener.adminPort { values["admin_address"] = "\(listener.adminHost):\(port)" }
        if let settings = try? bus.settings() {
            values["bus"] = "\(settings.servers.map(\.description).joined(separator: ","))"
            values["bus_token"] = "\(bus.busToken == nil ? "unset" : "set")"
            values["bus_prefix"] = "\(settings.prefix)"
            values["bus_stream"] = "\(settings.stream)"
            values["bus_stream_storage"] = "\(settings.streamStorage.rawValue)"
            values["bus_follow"] = "\(settings.following.rawValue)"
            values["bus_linger"] = "\(bus.busLinger)"
        }
        if let path = tls.certificate { values["tls_cert"] = "\(path)" }
        if let path = tls.key { values["tls_key"] = "\(path)" }
        if let path = operations.controlSocket { values["control_socket"] = "\(path)" }
        if let path = operations.takeover {
            values["takeover"] = "\(path)"
            values["handover"] = "\(operations.handover.rawValue)"
        }
        return values
    }

    /// Parses the command line with GATEWAY_* variables as defaults. Any invalid value exits 2
    /// with a message that names the flag, or the variable when one is at fault.
    static func main() {
        let commandLine = Array(CommandLine.arguments.dropFirst())
        let environment = EnvironmentDefaults.current()
        let flags: Set<String> = ["reuse-port", "echo", "require-feed"]
        let command: GatewayCommand
        do {
            command = try parse(EnvironmentDefaults.arguments(commandLine: commandLine, environment: environment, flags: flags))
        } catch let invalid as EnvironmentDefaults.InvalidVariable {
            writeToStandardError("Error: \(invalid)\n")
            Glibc.exit(2)
        } catch {
            let code = exitCode(for: error)
            if code == .success { exit(withError: error) }
            var message = fullMessage(for: error)
            if let culprit = EnvironmentDefaults.culprit(commandLine: commandLine, environment: environment, flags: flags,
                                                         parses: { (try? parse($0)) != nil }) {
                message = "Error: in the environment, \(culprit.name)=\(culprit.value): "
                    + message.replacingFirst("Error: ", with: "")
            }
            writeToStandardError(message + "\n")
            Glibc.exit(2)
        }
        do {
            try command.run()
        } catch let unusable as TokenKeyError {
            // Like a bad flag: the key cannot serve, so nothing starts.
            let fromEnvironment = !commandLine.contains(where: { $0.hasPrefix("--jwt-public-key") }) && environment["GATEWAY_JWT_PUBLIC_KEY"] != nil
            writeToStandardError("Error: \(fromEnvironment ? "in the environment, GATEWAY_JWT_PUBLIC_KEY: " : "")\(unusable)\n")
            Glibc.exit(2)
        } catch let unusable as TLSConfigurationError {
            // A certificate or key that cannot serve is a start-up misconfiguration like a bad flag;
            // name the variable when the path came from the environment.
            var message = unusable.description
            for (flag, variable) in [("--tls-cert", "GATEWAY_TLS_CERT"), ("--tls-key-password-file", "GATEWAY_TLS_KEY_PASSWORD_FILE"),
                                     ("--tls-key", "GATEWAY_TLS_KEY")]
            where message.hasPrefix(flag + " ") && !commandLine.contains(where: { $0 == flag || $0.hasPrefix(flag + "=") }) {
                if environment[variable] != nil { message = "in the environment, \(variable): " + message }
                break
            }
            writeToStandardError("Error: \(message)\n")
            Glibc.exit(2)
        } catch {
            writeToStandardError("gateway: \(error)\n")
            Glibc.exit(1)
        }
    }
}

struct ListenerOptions: ParsableArguments {
    @Option(help: "Address to listen on (IPv4 or IPv6 literal).")
    var host = "0.0.0.0"

    @Option(parsing: .unconditional, help: "Port to listen on; 0 picks a free port (logged).")
    var port = 8080

    @Flag(help: "Set SO_REUSEPORT so a second instance can bind the same port during a deploy.")
    var reusePort = false

    @Flag(help: "Serve /echo, which echoes every message (conformance testing).")
    var echo = false

    @Option(help: ArgumentHelp("Serve the live page (GET /), its client (/tickstream.js) and /stats on --port: on or off.", valueName: "on|off"))
    var web: Switch = .on

    @Option(help: "Serve /health/*, /metrics and /admin/* on this port (of --admin-host) only, not on --port. 0 picks a free port (logged).")
    var adminPort: Int?

    @Option(help: "Address of the --admin-port listener (IPv4 or IPv6 literal): loopback, or the pod IP for probes.")
    var adminHost = "127.0.0.1"
}

struct TLSOptions: ParsableArguments {
    @Option(name: .customLong("tls-cert"), help: ArgumentHelp("PEM certificate chain, leaf first. With --tls-key the listener speaks only TLS 1.2/1.3 (wss://, https://). SIGHUP or POST /admin/reload-tls reads both files again.", valueName: "pem"))
    var certificate: String?

    @Option(name: .customLong("tls-key"), help: ArgumentHelp("PEM private key of --tls-cert.", valueName: "pem"))
    var key: String?

    @Option(name: .customLong("tls-key-password-file"), help: ArgumentHelp("File whose first line is the password of an encrypted --tls-key.", valueName: "path"))
    var keyPasswordFile: String?
}

struct AuthOptions: ParsableArguments {
    @Option(help: ArgumentHelp("HS256 secret (32+ bytes) for /ws tokens: with it, every /ws connection needs a valid JWT (Authorization: Bearer or ?token=). Prefer GATEWAY_JWT_SECRET over the flag: the command line is visible to every user.", valueName: "secret"))
    var jwtSecret: String?

    @Option(help: ArgumentHelp("PEM public key (RSA 2048+ for RS256, P-256 for ES256) or certificate for /ws tokens.", valueName: "pem"))
    var jwtPublicKey: String?
}

struct LimitOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Largest message a /ws client may send, over all its fragments; larger closes with 1009.")
    var maxMessageBytes = 65536

    @Option(parsing: .unconditional, help: "Largest message a /feed publisher may send.")
    var feedMaxMessageBytes = 1 << 20

    @Option(parsing: .unconditional, help: "Largest message /echo takes (the conformance run needs 16 MiB).")
    var echoMaxMessageBytes = 16 << 20

    @Option(parsing: .unconditional, help: "Messages (commands and pings) per second a /ws client may send; past it an error reply, then close 1008 if it keeps going. 0: no limit.")
    var messageRate = 100

    @Option(parsing: .unconditional, help: "Messages a /ws client may send at once after a quiet spell.")
    var messageBurst = 500

    @Option(parsing: .unconditional, help: "Connections served at once; past it 503 (Retry-After), then refusal. Default: the open-file limit (raised to its hard limit) less 64.")
    var maxConnections: Int?

    @Option(parsing: .unconditional, help: "Connections from one IP address at once; past it 429. 0: no limit (clients behind a NAT or proxy share an address).")
    var maxConnectionsPerAddress = 0

    @Option(help: ArgumentHelp("Comma-separated origins whose pages may open WebSockets (https://desk.example.com, https://*.example.com); others get 403. A handshake without Origin (not a browser) is allowed. Default: any origin.", valueName: "origins"))
    var allowedOrigins: String?

    /// `--allowed-origins` split at commas, or nil when not given.
    var allowedOriginList: [String]? {
        allowedOrigins.map { $0.split(separator: ",").map { String($0).trimmingCharacters() }.filter { !$0.isEmpty } }
    }

    @Option(parsing: .unconditional, help: "Largest HTTP request head; larger is answered 431.")
    var maxHeaderBytes = 8192

    @Option(parsing: .unconditional, help: "Output queued for one connection. Past it a subscriber's updates are conflated (newest per symbol; closed with 1008 after --slow-consumer-timeout) and an /echo client stops being read until it drains.")
    var maxQueueBytes = 1 << 20

    @Option(parsing: .unconditional, help: "Seconds a client has to send its request head before 408 and close.")
    var handshakeTimeout = 10.0

    @Option(parsing: .unconditional, help: "Seconds to wait for a peer's Close reply and TCP close before dropping it.")
    var closeTimeout = 5.0

    @Option(parsing: .unconditional, help: "Microseconds a connection's output may wait for more to join it before it is written: fewer writes for at most this much added latency. 0: written at the end of each loop iteration.")
    var flushInterval = 0
}

struct LivenessOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Seconds a WebSocket peer may be silent before it is pinged (and between pings). 0: no pings.")
    var pingInterval = 20.0

    @Option(parsing: .unconditional, help: "Seconds a WebSocket peer may be silent (no message, no pong) before close 1001 \"idle\". 0: never.")
    var idleTimeout = 60.0

    @Option(parsing: .unconditional, help: "Seconds of TCP idleness before keepalive probes (every 10 s, 3 unanswered end the connection). 0: off.")
    var tcpKeepalive = 60.0
}

enum Switch: String, ExpressibleByArgument, CaseIterable {
    case on, off
}

struct CompressionOptions: ParsableArguments {
    @Option(help: ArgumentHelp("permessage-deflate with clients that offer it: on or off. Updates are compressed once per variant and shared, not per subscriber.", valueName: "on|off"))
    var deflate: Switch = .on

    @Option(parsing: .unconditional, help: "Market-data messages shorter than this go out uncompressed even to clients that negotiated deflate (too small to gain).")
    var deflateMinBytes = 128
}

struct MarketOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Simulated symbols: a count N (SYM0000...SYM<N-1>) or a comma-separated list. Default: ~30 well-known tickers.", valueName: "n-or-list"))
    var simSymbols: String?

    @Option(parsing: .unconditional, help: "Simulated updates per second over all symbols, round-robin, paced in 1 ms ticks; 0 turns the simulator off. Default 1000; with --bus, off unless --sim-target bus.")
    var simRate: Int?

    @Option(help: ArgumentHelp("Where simulated updates go: local (applied here) or bus (published into --bus, numbered there, for the whole fleet; run it on one instance only).", valueName: "local|bus"))
    var simTarget: SimulatorTarget = .local

    @Option(parsing: .unconditional, help: "Symbols one connection may subscribe to.")
    var maxSubscriptions = 500

    @Option(parsing: .unconditional, help: "Distinct symbols the gateway tracks (from subscriptions, /feed and the simulator); bounds what clients can make it remember.")
    var maxSymbols = 100_000

    @Option(parsing: .unconditional, help: "Seconds a subscriber may stay over --max-queue-bytes (its updates conflated) before it is closed with 1008.")
    var slowConsumerTimeout = 5.0

    @Option(help: "Enable /feed for publishers sending Authorization: Bearer <token>.")
    var publisherToken: String?

    /// The simulator's symbol names; empty means the built-in list.
    func simulatorSymbols() throws -> [String] {
        guard let simSymbols else { return [] }
        if let count = Int(simSymbols) {
            guard (1...10_000).contains(count) else { throw ValidationError("--sim-symbols count must be 1...10000, got \(count)") }
            return SimulatedMarket.generatedSymbols(count: count)
        }
        let names = simSymbols.split(separator: ",").map { String($0).trimmingCharacters() }
        guard !names.isEmpty else { throw ValidationError("--sim-symbols is empty") }
        for name in names where !SymbolSyntax.isValid(name) {
            throw ValidationError("--sim-symbols: invalid symbol \"\(name)\" (expected ^[A-Z0-9][A-Z0-9._-]{0,15}$)")
        }
        guard Set(names).count == names.count else { throw ValidationError("--sim-symbols lists a symbol twice") }
        return names
    }
}

extension String {
    fileprivate func replacingFirst(_ prefix: String, with replacement: String) -> String {
        hasPrefix(prefix) ? replacement + dropFirst(prefix.count) : self
    }

    fileprivate func trimmingCharacters() -> String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}

struct OperationsOptions: ParsableArguments {
    @Option(help: "Enable POST /admin/drain for callers sending Authorization: Bearer <token>.")
    var adminToken: String?

    @Option(parsing: .unconditional, help: "Seconds from the start of a drain to the first eviction (time for load balancers to stop routing here).")
    var drainGrace = 5.0

    @Option(parsing: .unconditional, help: "Seconds over which a drain spreads its evictions.")
    var drainDuration = 10.0

    @Option(parsing: .unconditional, help: "Hard bound on a drain in seconds: what remains is closed and the process exits.")
    var drainTimeout = 30.0

    @Option(help: "Unix socket where a new instance can take over this one's listener.")
    var controlSocket: String?

    @Option(help: "Take the listener over from the instance whose --control-socket is at this path, instead of binding.")
    var takeover: String?

    @Option(help: "With --takeover: drain (the running instance drains its clients) or connections (they move here, same TCP connection, seq continuing).")
    var handover = HandoverMode.drain

    @Flag(help: "Readiness requires an update on /feed within --feed-stale-after seconds.")
    var requireFeed = false

    @Option(parsing: .unconditional, help: "Seconds without a /feed update after which a required feed is stale.")
    var feedStaleAfter = 5.0

    @Option(parsing: .unconditional, help: "Readiness fails while event-loop timers fire later than this many seconds.")
    var maxLoopLag = 1.0
}

extension SimulatorTarget: ExpressibleByArgument {}
extension HandoverMode: ExpressibleByArgument {}
extension BusSettings.Following: ExpressibleByArgument {}
extension BusSettings.StreamStorage: ExpressibleByArgument {}

struct BusOptions: ParsableArguments {
    @Option(help: ArgumentHelp("NATS servers (comma-separated nats://[user:password@|token@]host:port): every update reaches this instance through them, and /feed publishes into them. Requires JetStream for snapshots.", valueName: "urls"))
    var bus: String?

    @Option(help: ArgumentHelp("NATS token for servers whose URL carries no credentials. Prefer GATEWAY_BUS_TOKEN over the flag.", valueName: "token"))
    var busToken: String?

    @Option(help: "Subjects are <prefix>.<SYMBOL>.")
    var busPrefix = "md"

    @Option(help: "The JetStream stream keeping each subject's last message (created if missing).")
    var busStream = "MD"

    @Option(parsing: .unconditional, help: "Replicas of the stream when this instance creates it (3 on a NATS cluster).")
    var busStreamReplicas = 1

    @Option(help: ArgumentHelp("Storage of the stream when this instance creates it: file (survives a NATS restart, so writers continue their seq) or memory (lower latency under load).", valueName: "file|memory"))
    var busStreamStorage: BusSettings.StreamStorage = .file

    @Option(help: ArgumentHelp("Which subjects to follow: interest (the symbols clients want, each until --bus-linger after its last client) or all (<prefix>.>, for small universes).", valueName: "interest|all"))
    var busFollow: BusSettings.Following = .interest

    @Option(parsing: .unconditional, help: "Seconds a symbol stays followed after its last client left.")
    var busLinger = 2.0

    /// `simulatorRateGiven`: --sim-rate as given, 0 when not.
    func validate(simulatorTarget: SimulatorTarget, simulatorRateGiven: Int) throws {
        guard bus != nil else {
            if busToken != nil { throw ValidationError("--bus-token needs --bus") }
            if simulatorTarget == .bus { throw ValidationError("--sim-target bus needs --bus (the NATS servers to publish into)") }
            return
        }
        _ = try settings()
        if simulatorTarget == .local && simulatorRateGiven > 0 {
            throw ValidationError("with --bus every update comes through the bus: publish simulated data into it with --sim-target bus (on one instance), or drop --sim-rate")
        }
    }

    /// The bus settings, or nil without --bus; throws naming the flag at fault.
    func settings() throws -> BusSettings? {
        guard let bus else { return nil }
        let servers: [NATSServerURL]
        switch NATSServerURL.parseList(bus) {
        case .success(let parsed): servers = parsed
        case .failure(let error): throw ValidationError("--bus: \(error)")
        }
        guard NATSCommands.isValidSubject(busPrefix), !busPrefix.contains("*"), !busPrefix.contains(">") else {
            throw ValidationError("--bus-prefix must be a NATS subject without wildcards (like md or prod.md), got \(busPrefix)")
        }
        guard !busStream.isEmpty, busStream.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) else {
            throw ValidationError("--bus-stream must be letters, digits, _ or -, got \(busStream)")
        }
        guard (1...5).contains(busStreamReplicas) else { throw ValidationError("--bus-stream-replicas must be 1...5, got \(busStreamReplicas)") }
        guard (0...3600).contains(busLinger) else { throw ValidationError("--bus-linger must be 0...3600 seconds, got \(busLinger)") }
        if let busToken, busToken.isEmpty || busToken.contains(where: { $0 == " " || $0.isNewline }) {
            throw ValidationError("--bus-token must be non-empty, without spaces or newlines")
        }
        var settings = BusSettings(servers: servers)
        settings.token = busToken
        settings.prefix = busPrefix
        settings.stream = busStream
        settings.streamReplicas = busStreamReplicas
        settings.streamStorage = busStreamStorage
        settings.following = busFollow
        settings.linger = UInt64(busLinger * 1e9)
        var name = [CChar](repeating: 0, count: 256)
        let host = gethostname(&name, name.count) == 0
            ? String(decoding: name.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self) : "unknown"
        settings.clientName = "tickstream \(host) pid \(getpid())"
        return settings
    }
}

enum LogFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

struct LoggingOptions: ParsableArguments {
    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level = .info

    @Option(help: "text (for people) or json (one object per line, for log shippers).")
    var logFormat: LogFormat = .text
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// Writes straight to file descriptor 2 (the C `stderr` global is not concurrency-safe).
func writeToStandardError(_ text: String) {
    var bytes = Array(text.utf8)
    _ = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress, $0.count) }
}
