import Connection
import EventLoop
import Logging

/// What the gateway's parts share, handed to each of them explicitly: the loop they all run
/// on, the validated settings, the logger, the counters, and where a drain is. Nothing
/// reaches back into `Gateway`, so each part can be built alone in a test.
final class GatewayContext {
    let loop: EventLoop
    let configuration: GatewayConfiguration
    let logger: Logger
    let metrics: GatewayMetrics
    /// One writer for every control reply (acks, errors, notices).
    let replies = ControlReplies()
    /// The zlib streams every compressing connection shares (permessage-deflate).
    let compression = CompressionWorkspace()
    /// The listener's certificate when it speaks TLS.
    let certificate: ListenerCertificate?
    /// Connections served at once, resolved at start (`--max-connections` or the descriptor limit).
    var maxConnections = 0
    /// Moved forward by `DrainController` only; routing, readiness and metrics read it.
    var drainPhase = DrainPhase.serving
    /// The feature flags this instance goes by.
    let flags: FlagBook

    init(loop: EventLoop, configuration: GatewayConfiguration, logger: Logger, metrics: GatewayMetrics = GatewayMetrics(),
         certificate: ListenerCertificate? = nil) {
        self.loop = loop
        self.certificate = certificate
        self.configuration = configuration
        self.logger = logger
        self.metrics = metrics
        flags = FlagBook(logger: logger)
    }

    var isDraining: Bool { drainPhase != .serving }

    /// Limits of an accepted connection before it upgrades; each route sets its message limit.
    var connectionLimits: ConnectionLimits {
        ConnectionLimits(maxMessageBytes: configuration.maxMessageBytes, maxHeaderBytes: configuration.maxHeaderBytes,
                         maxBodyBytes: configuration.maxBodyBytes,
                         handshakeTimeout: ConnectionLimits.nanoseconds(configuration.handshakeTimeout),
                         closeTimeout: ConnectionLimits.nanoseconds(configuration.closeTimeout))
    }
}

/// Where a drain is: serving, waiting out the grace, evicting, or done.
enum DrainPhase: String {
    case serving, grace, evicting, finished
}
