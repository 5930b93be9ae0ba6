/// Everything the gateway needs to run, already validated. Built from flags and environment
/// variables by the `gateway` executable; tests build it directly.
public struct GatewayConfiguration: Sendable {
    /// Address to listen on, a literal IPv4 or IPv6 address.
    public var host = "0.0.0.0"
    /// Port to listen on; 0 picks a free one (logged at start).
    public var port = 8080
    /// Set SO_REUSEPORT so another instance can share the port during a deploy.
    public var reusePort = false
    /// PEM certificate chain (leaf first) and private key: when both are set the listener
    /// speaks TLS only (`wss://`, `https://`).
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
    /// Largest WebSocket message accepted, summed over fragments; larger is closed with 1009.
    public var maxMessageBytes = 65536
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
    /// Seconds a subscriber may stay over `maxQueueBytes` before it is closed with 1008.
    public var slowConsumerTimeout = 5.0
    /// Symbols one connection may subscribe to.
    public var maxSubscriptions = 500
    /// Distinct symbols the gateway will track (from subscriptions, the feed and the simulator);
    /// a bound on what clients can make it remember.
    public var maxSymbols = 100_000

    /// The simulator's symbols; empty means the built-in list of well-known tickers.
    public var simulatorSymbols: [String] = []
    /// Simulated updates per second over all symbols, round-robin; 0 turns the simulator off.
    public var simulatorRate = 1000

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

    public init() {}
}
