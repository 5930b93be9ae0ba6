import Bus
import Logging

/// Everything the gateway needs to run. The initial values here are the defaults that
/// `--help` and docs/configuration.md state; `GatewaySettings` declares how each is set from
/// a flag or a `GATEWAY_*` variable, and `validate()` (which `Gateway.init` calls, so every
/// way of building one is checked) holds the rules.
public struct GatewayConfiguration: Sendable {
    /// Address to listen on, a literal IPv4 or IPv6 address.
    public var host = "0.0.0.0"
    /// Port to listen on; 0 picks a free one (logged at start).
    public var port = 8080
    /// Set SO_REUSEPORT so another instance can share the port during a deploy.
    public var reusePort = false
    /// Serve the live page (`/`), its client (`/tickstream.js`) and `/stats` on the public port.
    public var web = true
    /// When set, health, metrics and admin endpoints are served on this port only (of
    /// `adminHost`), not on the public one. 0 picks a free port.
    public var adminPort: Int?
    /// Address of the admin listener.
    public var adminHost = "127.0.0.1"
    /// PEM certificate chain (leaf first) and private key: when both are set the listener
    /// speaks TLS only (`wss://`, `https://`).
    /// Feature flags from this file (no bus), or from the bus's key-value bucket.
    public var flagsFile: String?
    public var flagsBucket = "tickstream_flags"
    public var tlsCertificatePath: String?
    public var tlsKeyPath: String?
    /// A file whose first line is the password of an encrypted `tlsKeyPath`.
    public var tlsKeyPasswordPath: String?
    /// Negotiate permessage-deflate with clients that offer it (RFC 7692).
    public var deflate = true
    /// Market-data messages shorter than this go out uncompressed (RSV1 clear) even to
    /// clients that negotiated deflate: below it compression saves too little to pay for.
    public var deflateMinBytes = 128
    /// Serve `/echo`, the conformance-test endpoint.
    public var echo = false
    /// Largest message a `/ws` client may send, summed over fragments; larger is closed with 1009.
    public var maxMessageBytes = 65536
    /// Largest message a `/feed` publisher may send (a batch of updates).
    public var feedMaxMessageBytes = 1 << 20
    /// Largest message `/echo` takes (the conformance run needs 16 MiB).
    public var echoMaxMessageBytes = 16 << 20
    /// Messages (commands and pings) a `/ws` client may send per second, sustained; nil for no
    /// limit. Past it: an error reply, and close 1008 if the client keeps going.
    public var messageRate: Int? = 100
    /// Messages a `/ws` client may send at once after a quiet spell (its subscribe commands at
    /// start, say).
    public var messageBurst = 500
    /// Largest request head; larger is answered 431.
    public var maxHeaderBytes = 8192
    /// Largest request body accepted (POST endpoints); larger is answered 413.
    public var maxBodyBytes = 65536
    /// Seconds a client has to send a complete request head; then 408 and close.
    public var handshakeTimeout = 10.0
    /// Seconds to wait for the peer's Close reply, then for its TCP close, before dropping it.
    public var closeTimeout = 5.0
    /// Output queued for one connection. Past it, a subscriber's pending updates are conflated
    /// (newest per symbol) and reading from an echo client pauses until it drains.
    public var maxQueueBytes = 1 << 20
    /// Microseconds a connection's output may wait for more to join it before it is written:
    /// fewer writes (the kernel's cost per write decides throughput) for at most this much
    /// added latency. 0 writes at the end of every loop iteration.
    public var flushInterval = 0
    /// Seconds a subscriber may stay over `maxQueueBytes` before it is closed with 1008.
    public var slowConsumerTimeout = 5.0
    /// Connections (TCP, whatever their state) served at once; nil: the open-file limit less
    /// `reservedDescriptors`. Past it, a few more are answered 503 and the rest refused.
    public var maxConnections: Int?
    /// Connections from one IP address at once; nil for no limit (clients behind a NAT or a
    /// proxy share an address). Past it: 429.
    public var maxConnectionsPerAddress: Int?
    /// Origins allowed to open WebSockets (browsers); nil allows any, and a handshake without
    /// `Origin` (a non-browser client) is always allowed.
    public var allowedOrigins: [String]?
    /// Seconds of silence from a WebSocket peer before it is pinged; 0 sends no pings.
    public var pingInterval = 20.0
    /// Seconds of silence (no message, no pong) before a WebSocket is closed with 1001 "idle";
    /// 0 never closes for silence.
    public var idleTimeout = 60.0
    /// Seconds of TCP idleness before the kernel's keepalive probes start on accepted
    /// connections (then every 10 s, 3 unanswered probes end it); 0 turns keepalive off.
    public var tcpKeepalive = 60.0
    /// Symbols one connection may subscribe to.
    public var maxSubscriptions = 500
    /// Distinct symbols the gateway will track (from subscriptions, the feed and the simulator);
    /// a bound on what clients can make it remember.
    public var maxSymbols = 100_000

    /// The simulator's symbols; empty means the built-in list of well-known tickers.
    public var simulatorSymbols: [String] = []
    /// Simulated updates per second over all symbols, round-robin; 0 turns the simulator off.
    /// nil: 1000 without a bus; with one, 0 unless this instance simulates into it.
    public var simulatorRate: Int?
    /// The rate the simulator runs at.
    public var effectiveSimulatorRate: Int {
        simulatorRate ?? (bus != nil && simulatorTarget == .local ? 0 : 1000)
    }
    /// Where simulated updates go: applied here, or published into the bus (one simulating
    /// instance feeds the fleet).
    public var simulatorTarget = SimulatorTarget.local

    /// The market bus (NATS): with it, every update reaches this instance through the bus and
    /// publishers' updates go into it.
    public var bus: BusSettings? {
        get { busOptions.servers.isEmpty ? nil : busOptions }
        set { busOptions = newValue ?? BusSettings(servers: []) }
    }
    /// The bus settings whether or not `--bus` names servers: its companions (`--bus-prefix`...)
    /// are set here before or after the servers are.
    public var busOptions = BusSettings(servers: [])
    var busLingerSeconds: Double {
        get { Double(busOptions.linger) / 1e9 }
        set { busOptions.linger = UInt64(newValue * 1e9) }
    }

    /// The HS256 secret of `/ws` tokens (at least 32 bytes). With it (or `jwtPublicKeyPath`)
    /// every `/ws` connection needs a valid JWT; without either, `/ws` is open.
    public var jwtSecret: String?
    /// A PEM public key (RSA for RS256, P-256 for ES256) that `/ws` tokens are checked with.
    public var jwtPublicKeyPath: String?

    /// Enables `/feed` for publishers presenting `Authorization: Bearer <token>`.
    public var publisherToken: String?
    /// When set, readiness requires an ingest update within `feedStaleAfter` seconds.
    public var requireFeed = false
    /// Seconds without an ingest update after which a required feed counts as stale.
    public var feedStaleAfter = 5.0
    /// Readiness fails while the event loop's timers run later than this many seconds.
    public var maxLoopLag = 1.0

    /// Enables `POST /admin/drain` for callers presenting `Authorization: Bearer <token>`.
    public var adminToken: String?
    /// Seconds between the start of a drain and the first eviction (load balancers catch up).
    public var drainGrace = 5.0
    /// Seconds over which evictions are spread.
    public var drainDuration = 10.0
    /// Hard bound on a drain, in seconds: then what remains is cut and the process exits.
    public var drainTimeout = 30.0
    /// Unix socket path where a new instance can ask for this one's listener (takeover).
    public var controlSocket: String?
    /// Unix socket path of a running instance to take the listener from, instead of binding.
    public var takeover: String?
    /// What a takeover moves besides the listener: the live connections too, or nothing (the
    /// running instance drains them).
    public var handover = HandoverMode.drain

    /// The least severe level logged.
    public var logLevel = Logger.Level.info
    /// Text lines for people or one JSON object per line for log shippers.
    public var logFormat = LogFormat.text

    /// Seconds the old instance stays as a standby after a handover and judges the new one
    /// against its own recent figures, rolling back a version that does worse; 0: no watch.
    /// The deploy's choice, given to the new instance with `--takeover`.
    public var watch = 0.0
    /// Deliveries the new version must make before any verdict on its figures.
    public var watchMinSample = 1000
    /// Sessions (connections open or opened during the watch) before the share of failed ones
    /// can decide.
    public var watchMinSessions = 10
    /// How much the share of failed sessions may grow over the baseline, in percentage points.
    public var watchMaxFailureIncrease = 2.0
    /// How much the p99 of output wait (queued to written) may grow, in milliseconds.
    public var watchMaxLatencyIncrease = 50.0
    /// How much the p99 of event-loop lag may grow, in milliseconds.
    public var watchMaxLagIncrease = 50.0
    /// Seconds the new version may leave the standby's questions unanswered (or stay unready)
    /// before it is rolled back.
    public var watchUnresponsive = 3.0
    /// Seconds of the old version's own past its baseline covers.
    public var watchBaseline = 60.0

    /// Descriptors kept out of `maxConnections`'s default for listeners, the loop, logs, the
    /// control socket and the reserve the listener answers with when the process runs out.
    public static let reservedDescriptors = 64

    public init() {}
}

/// What becomes of the running instance's connections in a takeover.
public enum HandoverMode: String, Sendable, CaseIterable {
    /// They are drained (notice, Close 1001) and reconnect to the new instance.
    case drain
    /// They move to the new instance, socket and state, and never notice.
    case connections
}

/// Where the simulator's updates go.
public enum SimulatorTarget: String, Sendable, CaseIterable {
    case local, bus
}

/// How log lines are written.
public enum LogFormat: String, Sendable, CaseIterable {
    case text, json
}
