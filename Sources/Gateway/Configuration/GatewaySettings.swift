import Bus
import ByteBuffers
import EventLoop
import Flags
import Logging
import MarketData
import NATS

/// Every setting of the gateway, each declared once, in the order `--help` and the docs list
/// them. A new setting is one entry here and one property (with its default) in
/// `GatewayConfiguration`.
public enum GatewaySettings {
    public static var all: [Setting] { listener + tls + authentication + limits + liveness + compression + market + bus + flags + operations + deploy + logging }

    /// The setting whose flag is `--name`.
    public static func named(_ name: String) -> Setting? { all.first { $0.name == name } }

    static func ipLiteral(_ host: String) -> String? {
        SocketAddress(host: host, port: 0) == nil ? "must be an IPv4 or IPv6 literal (a name is not resolved), got \(host)" : nil
    }

    static func token(_ value: String) -> String? {
        value.isEmpty || value.contains(where: { $0 == " " || $0.isNewline }) ? "must be non-empty, without spaces or newlines" : nil
    }

    static var listener: [Setting] {
        [
            .text("host", .listener, \.host, valueName: "address", valid: ipLiteral, help: "Address to listen on (IPv4 or IPv6 literal)."),
            .integer("port", .listener, \.port, range: 0...65535, unit: "port", help: "Port to listen on; 0 picks a free port (logged)."),
            .toggle("reuse-port", .listener, \.reusePort, help: "Set SO_REUSEPORT so a second instance can bind the same port during a deploy."),
            .toggle("echo", .listener, \.echo, help: "Serve /echo, which echoes every message (conformance testing)."),
            .toggle("web", .listener, \.web, help: "Serve the live page (GET /), its client (/tickstream.js) and /stats on --port."),
            .integer("admin-port", .listener, \.adminPort, range: 0...65535, unit: "port", defaultText: "unset (on --port)",
                     help: "Serve /health/*, /metrics and /admin/* on this port (of --admin-host) only, not on --port. 0 picks a free port (logged)."),
            .text("admin-host", .listener, \.adminHost, valueName: "address", valid: ipLiteral,
                  help: "Address of the --admin-port listener (IPv4 or IPv6 literal): loopback, or the pod IP for probes."),
        ]
    }

    static var tls: [Setting] {
        [
            .text("tls-cert", .tls, \.tlsCertificatePath, valueName: "pem",
                  help: "PEM certificate chain, leaf first. With --tls-key the listener speaks only TLS 1.2/1.3 (wss://, https://). SIGHUP or POST /admin/reload-tls reads both files again."),
            .text("tls-key", .tls, \.tlsKeyPath, valueName: "pem", help: "PEM private key of --tls-cert."),
            .text("tls-key-password-file", .tls, \.tlsKeyPasswordPath, valueName: "path",
                  help: "File whose first line is the password of an encrypted --tls-key."),
        ]
    }

    static var authentication: [Setting] {
        [
            .text("jwt-secret", .authentication, \.jwtSecret, valueName: "secret", secret: true,
                  valid: { $0.utf8.count < 32 ? "must be at least 32 bytes for HS256 (RFC 7518 §3.2), got \($0.utf8.count)" : nil },
                  help: "HS256 secret (32+ bytes) for /ws tokens: with it, every /ws connection needs a valid JWT (Authorization: Bearer or ?token=). Prefer GATEWAY_JWT_SECRET over the flag: the command line is visible to every user."),
            .text("jwt-public-key", .authentication, \.jwtPublicKeyPath, valueName: "pem",
                  help: "PEM public key (RSA 2048+ for RS256, P-256 for ES256) or certificate for /ws tokens."),
        ]
    }

    static var limits: [Setting] {
        [
            .integer("max-message-bytes", .limits, \.maxMessageBytes, range: 125...(1 << 30), unit: "bytes",
                     help: "Largest message a /ws client may send, over all its fragments; larger closes with 1009."),
            .integer("feed-max-message-bytes", .limits, \.feedMaxMessageBytes, range: 125...(1 << 30), unit: "bytes",
                     help: "Largest message a /feed publisher may send."),
            .integer("echo-max-message-bytes", .limits, \.echoMaxMessageBytes, range: 125...(1 << 30), unit: "bytes",
                     help: "Largest message /echo takes (the conformance run needs 16 MiB)."),
            .integer("message-rate", .limits, \.messageRate, range: 0...1_000_000, unit: "per-second", zeroMeans: "no limit",
                     help: "Messages (commands and pings) per second a /ws client may send; past it an error reply, then close 1008 if it keeps going."),
            .integer("message-burst", .limits, \.messageBurst, range: 1...1_000_000,
                     help: "Messages a /ws client may send at once after a quiet spell."),
            .integer("max-connections", .limits, \.maxConnections, range: 1...10_000_000,
                     defaultText: "open-file limit - \(GatewayConfiguration.reservedDescriptors)",
                     help: "Connections served at once; past it 503 (Retry-After), then refusal. Default: the open-file limit (raised to its hard limit) less \(GatewayConfiguration.reservedDescriptors)."),
            .integer("max-connections-per-address", .limits, \.maxConnectionsPerAddress, range: 0...10_000_000, zeroMeans: "no limit",
                     help: "Connections from one IP address at once; past it 429 (clients behind a NAT or proxy share an address)."),
            .custom("allowed-origins", .limits, valueName: "origins", defaultText: "any origin",
                    help: "Comma-separated origins whose pages may open WebSockets (https://desk.example.com, https://*.example.com); others get 403. A handshake without Origin (not a browser) is allowed.",
                    apply: { configuration, text throws(SettingError) in
                        configuration.allowedOrigins = text.split(separator: ",").map { String($0).trimmingBlanks() }.filter { !$0.isEmpty }
                    },
                    show: { $0.allowedOrigins?.joined(separator: ",") ?? "" },
                    check: { configuration in
                        guard let origins = configuration.allowedOrigins else { return nil }
                        do { _ = try OriginPolicy(origins) } catch { return "--allowed-origins: \(error)" }
                        return nil
                    }),
            .integer("max-header-bytes", .limits, \.maxHeaderBytes, range: 256...(1 << 20), unit: "bytes",
                     help: "Largest HTTP request head; larger is answered 431."),
            .integer("max-queue-bytes", .limits, \.maxQueueBytes, range: 4096...(1 << 30), unit: "bytes",
                     help: "Output queued for one connection. Past it a subscriber's updates are conflated (newest per symbol; closed with 1008 after --slow-consumer-timeout) and an /echo client stops being read until it drains."),
            .seconds("handshake-timeout", .limits, \.handshakeTimeout, range: 0.001...3600,
                     help: "Seconds a client has to send its request head before 408 and close."),
            .seconds("close-timeout", .limits, \.closeTimeout, range: 0.001...3600,
                     help: "Seconds to wait for a peer's Close reply and TCP close before dropping it."),
            .integer("flush-interval", .limits, \.flushInterval, range: 0...1_000_000, unit: "microseconds",
                     help: "Microseconds a connection's output may wait for more to join it before it is written: fewer writes for at most this much added latency. 0: written at the end of each loop iteration."),
        ]
    }

    static var liveness: [Setting] {
        [
            .seconds("ping-interval", .liveness, \.pingInterval, range: 0...86_400, zeroMeans: "no pings",
                     help: "Seconds a WebSocket peer may be silent before it is pinged (and between pings)."),
            .seconds("idle-timeout", .liveness, \.idleTimeout, range: 0...86_400, zeroMeans: "never",
                     help: "Seconds a WebSocket peer may be silent (no message, no pong) before close 1001 \"idle\"."),
            .seconds("tcp-keepalive", .liveness, \.tcpKeepalive, range: 0...86_400, zeroMeans: "off",
                     help: "Seconds of TCP idleness before keepalive probes (every 10 s, 3 unanswered end the connection)."),
        ]
    }

    static var compression: [Setting] {
        [
            .toggle("deflate", .compression, \.deflate,
                    help: "permessage-deflate with clients that offer it. Updates are compressed once per variant and shared, not per subscriber."),
            .integer("deflate-min-bytes", .compression, \.deflateMinBytes, range: 0...(1 << 30), unit: "bytes",
                     help: "Market-data messages shorter than this go out uncompressed even to clients that negotiated deflate (too small to gain)."),
        ]
    }

    static var market: [Setting] {
        [
            .custom("sim-symbols", .market, valueName: "n-or-list", defaultText: "~30 well-known tickers",
                    help: "Simulated symbols: a count N (SYM0000...SYM<N-1>, N at most 10000) or a comma-separated list.",
                    apply: { configuration, text throws(SettingError) in
                        if let count = Int(text) {
                            guard (1...10_000).contains(count) else {
                                throw SettingError(setting: "sim-symbols", "--sim-symbols count must be 1...10000, got \(count)")
                            }
                            configuration.simulatorSymbols = SimulatedMarket.generatedSymbols(count: count)
                        } else {
                            configuration.simulatorSymbols = text.split(separator: ",", omittingEmptySubsequences: false)
                                .map { String($0).trimmingBlanks() }
                        }
                    },
                    show: { configuration in
                        let names = configuration.simulatorSymbols
                        if !names.isEmpty && names == SimulatedMarket.generatedSymbols(count: names.count) { return "\(names.count)" }
                        return names.joined(separator: ",")
                    },
                    check: { configuration in
                        for name in configuration.simulatorSymbols where !SymbolSyntax.isValid(name) {
                            return "--sim-symbols: invalid symbol \"\(name)\" (expected ^[A-Z0-9][A-Z0-9._-]{0,15}$)"
                        }
                        if Set(configuration.simulatorSymbols).count != configuration.simulatorSymbols.count { return "--sim-symbols lists a symbol twice" }
                        return nil
                    }),
            .integer("sim-rate", .market, \.simulatorRate, range: 0...10_000_000, unit: "per-second",
                     defaultText: "1000; with --bus 0 unless --sim-target bus",
                     help: "Simulated updates per second over all symbols, round-robin, paced in 1 ms ticks; 0 turns the simulator off."),
            .choice("sim-target", .market, \.simulatorTarget,
                    help: "Where simulated updates go: local (applied here) or bus (published into --bus, numbered there, for the whole fleet; run it on one instance only)."),
            .integer("max-subscriptions", .market, \.maxSubscriptions, range: 1...100_000, help: "Symbols one connection may subscribe to."),
            .integer("max-symbols", .market, \.maxSymbols, range: 1...10_000_000,
                     help: "Distinct symbols the gateway tracks (from subscriptions, /feed and the simulator); bounds what clients can make it remember."),
            .seconds("slow-consumer-timeout", .market, \.slowConsumerTimeout, range: 0.001...3600,
                     help: "Seconds a subscriber may stay over --max-queue-bytes (its updates conflated) before it is closed with 1008."),
            .text("publisher-token", .market, \.publisherToken, valueName: "token", secret: true, valid: token,
                  help: "Enable /feed for publishers sending Authorization: Bearer <token>."),
        ]
    }

    static var bus: [Setting] {
        [
            .custom("bus", .bus, valueName: "urls",
                    help: "NATS servers (comma-separated nats://[user:password@|token@]host:port, or tls://…): every update reaches this instance through them, and /feed publishes into them. One server of a cluster is enough (the others are learnt from it). Requires JetStream for snapshots.",
                    apply: { configuration, text throws(SettingError) in
                        switch NATSServerURL.parseList(text) {
                        case .success(let servers): configuration.busOptions.servers = servers
                        case .failure(let error): throw SettingError(setting: "bus", "--bus: \(error)")
                        }
                    },
                    show: { $0.busOptions.servers.map(\.description).joined(separator: ",") }),
            .text("bus-token", .bus, \.busOptions.token, valueName: "token", secret: true, valid: token,
                  help: "NATS token for servers whose URL carries no credentials. Prefer GATEWAY_BUS_TOKEN over the flag."),
            .text("bus-creds", .bus, \.busOptions.credentialsPath, valueName: "path",
                  help: "NATS credentials: a .creds file (user JWT and NKEY seed, as nsc writes it) or a file holding an NKEY user seed. The seed signs each server's nonce; it is never logged."),
            .text("bus-ca", .bus, \.busOptions.caPath, valueName: "pem",
                  help: "TLS towards NATS: verify the servers with the CA certificates in this PEM file (else the system's). Servers that require TLS get it; tls:// URLs demand it."),
            .text("bus-cert", .bus, \.busOptions.certificatePath, valueName: "pem",
                  help: "TLS towards NATS: our client certificate (PEM chain), for servers that verify clients. With --bus-key."),
            .text("bus-key", .bus, \.busOptions.keyPath, valueName: "pem", help: "The unencrypted PEM private key of --bus-cert."),
            .text("bus-prefix", .bus, \.busOptions.prefix, valueName: "subject",
                  valid: { NATSCommands.isValidSubject($0) && !$0.contains("*") && !$0.contains(">") ? nil : "must be a NATS subject without wildcards (like md or prod.md), got \($0)" },
                  help: "Subjects are <prefix>.<SYMBOL>."),
            .text("bus-stream", .bus, \.busOptions.stream, valueName: "name",
                  valid: { !$0.isEmpty && $0.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) ? nil : "must be letters, digits, _ or -, got \($0)" },
                  help: "The JetStream stream keeping each subject's last message (created if missing)."),
            .integer("bus-stream-replicas", .bus, \.busOptions.streamReplicas, range: 1...5,
                     help: "Replicas of the stream when this instance creates it (3 on a NATS cluster)."),
            .choice("bus-stream-storage", .bus, \.busOptions.streamStorage,
                    help: "Storage of the stream when this instance creates it: file (survives a NATS restart, so writers continue their seq) or memory (lower latency under load)."),
            .choice("bus-follow", .bus, \.busOptions.following,
                    help: "Which subjects to follow: interest (the symbols clients want, each until --bus-linger after its last client) or all (<prefix>.>, for small universes)."),
            .seconds("bus-linger", .bus, \.busLingerSeconds, range: 0...3600, help: "Seconds a symbol stays followed after its last client left."),
        ]
    }

    static var flags: [Setting] {
        [
            .text("flags-file", .flags, \.flagsFile, valueName: "path",
                  help: "Feature flags from a JSON file (docs/flags.md), read at start, on SIGHUP and on POST /admin/reload-flags. Without --bus only; a flag nobody defined is off."),
            .text("flags-bucket", .flags, \.flagsBucket, valueName: "name",
                  valid: { FeatureFlag.isValidName($0.lowercased()) && !$0.contains("-") ? nil : "must be letters, digits or _, got \($0)" },
                  help: "With --bus: the NATS key-value bucket holding the fleet's feature flags, one key per flag (created if missing), watched by every instance."),
        ]
    }

    static var operations: [Setting] {
        [
            .text("admin-token", .operations, \.adminToken, valueName: "token", secret: true, valid: token,
                  help: "Enable POST /admin/* for callers sending Authorization: Bearer <token>."),
            .toggle("require-feed", .operations, \.requireFeed, help: "Readiness requires an update on /feed (or the bus) within --feed-stale-after seconds."),
            .seconds("feed-stale-after", .operations, \.feedStaleAfter, range: 0.001...86_400,
                     help: "Seconds without a feed update after which a required feed is stale."),
            .seconds("max-loop-lag", .operations, \.maxLoopLag, range: 0.001...3600,
                     help: "Readiness fails while event-loop timers fire later than this many seconds."),
        ]
    }

    static var deploy: [Setting] {
        [
            .seconds("drain-grace", .deploy, \.drainGrace, range: 0...3600,
                     help: "Seconds from the start of a drain to the first eviction (time for load balancers to stop routing here)."),
            .seconds("drain-duration", .deploy, \.drainDuration, range: 0...3600, help: "Seconds over which a drain spreads its evictions."),
            .seconds("drain-timeout", .deploy, \.drainTimeout, range: 0.001...7200,
                     help: "Hard bound on a drain in seconds: what remains is closed and the process exits."),
            .text("control-socket", .deploy, \.controlSocket, valueName: "path",
                  valid: { $0.utf8.count > 100 ? "must be at most 100 bytes (a Unix socket path)" : nil },
                  help: "Unix socket where a new instance can take over this one's listener."),
            .text("takeover", .deploy, \.takeover, valueName: "path",
                  valid: { $0.utf8.count > 100 ? "must be at most 100 bytes (a Unix socket path)" : nil },
                  help: "Take the listener over from the instance whose --control-socket is at this path, instead of binding."),
            .choice("handover", .deploy, \.handover,
                    help: "With --takeover: drain (the running instance drains its clients) or connections (they move here, same TCP connection, seq continuing)."),
            .seconds("watch", .deploy, \.watch, range: 0...86_400, zeroMeans: "no watch",
                     help: "With --takeover and --handover connections: the running instance stays as a standby this long, judges this one against its own recent figures, and takes every connection back if this one does worse, stalls or crashes."),
            .integer("watch-min-sample", .deploy, \.watchMinSample, range: 0...1_000_000_000, unit: "deliveries",
                     help: "Deliveries this version must make before its figures can pass or fail it (a quiet minute decides nothing): the watch runs on until then, for at most three times --watch, and a version that never gets its sample is rolled back."),
            .integer("watch-min-sessions", .deploy, \.watchMinSessions, range: 1...10_000_000, unit: "sessions",
                     help: "Sessions (connections open or opened during the watch) before the share of failed ones can fail this version: one failure in three sessions is noise. A version that fails its clients is judged on this, even when it stops delivering."),
            .seconds("watch-max-failure-increase", .deploy, \.watchMaxFailureIncrease, range: 0...100, unit: "percentage-points",
                     help: "Failed sessions (server error closes, slow-consumer and idle closes, protocol errors either way) as a share of connections may exceed the old version's by this much; the canary practice's usual +2 points."),
            .seconds("watch-max-latency-increase", .deploy, \.watchMaxLatencyIncrease, range: 0...60_000, unit: "milliseconds",
                     help: "The p99 of output wait (an update queued to written) may exceed the old version's by this much: far above a healthy gateway's spread, well under what a trading screen shows."),
            .seconds("watch-max-lag-increase", .deploy, \.watchMaxLagIncrease, range: 0...60_000, unit: "milliseconds",
                     help: "The p99 of event-loop lag may exceed the old version's by this much: a loop this late stalls every client at once."),
            .seconds("watch-unresponsive", .deploy, \.watchUnresponsive, range: 1...600,
                     help: "Seconds this version may leave the standby's questions unanswered, or stay unready, before it is rolled back (three missed polls by default)."),
            .seconds("watch-baseline", .deploy, \.watchBaseline, range: 5...300,
                     help: "Seconds of the old version's own recent past that its baseline covers."),
        ]
    }

    static var logging: [Setting] {
        [
            .choice("log-level", .logging, \.logLevel, help: "The least severe level logged."),
            .choice("log-format", .logging, \.logFormat, help: "text (for people) or json (one object per line, for log shippers)."),
        ]
    }
}
