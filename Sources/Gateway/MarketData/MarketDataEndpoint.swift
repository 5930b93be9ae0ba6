import Auth
import Connection
import EventLoop
import HTTP
import MarketData
import WebSocket

/// `/ws`: market data for trading clients. The subprotocol decides v1 or v2 for the
/// connection's lifetime; nothing offered, or nothing we support, means v1. With a token
/// verifier, a valid token is needed to connect and its claims bound the session.
final class MarketDataEndpoint: WebSocketEndpoint {
    let subprotocols = ProtocolVersion.supportedTokens
    let limits: RouteLimits
    var minimumCompressedBytes: Int { context.configuration.deflateMinBytes }
    let context: GatewayContext
    let service: MarketDataService
    /// The ticks of the rate caps subscriptions asked for.
    let rateCaps: RateCapClock
    private let tokens: TokenAuthorization?

    /// Serves `/ws`.
    func register(on router: Router) { router.addWebSocket("/ws", endpoint: self) }

    init(context: GatewayContext, service: MarketDataService, verifier: TokenVerifier? = nil) {
        self.context = context
        self.service = service
        rateCaps = RateCapClock(loop: context.loop, service: service)
        tokens = verifier.map { TokenAuthorization(verifier: $0, metrics: context.metrics) }
        let configuration = context.configuration
        limits = RouteLimits(maxMessageBytes: configuration.maxMessageBytes,
                             messageRate: configuration.messageRate.map { MessageRateLimit(perSecond: $0, burst: configuration.messageBurst) })
    }

    /// With tokens, the token's claims (its `sub` is the user to feature flags). Without, a
    /// `?client=<id>` the client keeps across reconnects (the reference client stores one) is
    /// the user; it grants nothing else.
    func authorize(_ head: HTTPRequestHead, subprotocol: String?) -> Result<AccessClaims?, HTTPResponseError> {
        if let tokens { return tokens.authorize(head).map { $0 } }
        guard let client = head.queryParameter("client") else { return .success(nil) }
        guard Self.isValidClientID(client) else {
            return .failure(HTTPResponseError(.badRequest, "?client= must be 1 to 128 printable ASCII characters without quotes or backslashes"))
        }
        return .success(AccessClaims(expiresAt: nil, symbols: nil, subject: client))
    }

    static func isValidClientID(_ id: String) -> Bool {
        (1...128).contains(id.utf8.count) && id.utf8.allSatisfy { $0 > 32 && $0 < 127 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
    }

    func openSession(for connection: WebSocketConnection, subprotocol: String?, claims: AccessClaims?) -> WebSocketSession {
        let version = subprotocol.flatMap(ProtocolVersion.init(rawValue:)) ?? .v1
        return MarketSession(connection: connection, version: version, endpoint: self, claims: claims)
    }

    /// A `/ws` connection handed over by another instance, continued on `socket`: nil when
    /// its state does not fit this instance (a partial message over `--max-message-bytes`,
    /// symbols or subscriptions over the limits).
    func adopt(_ handover: SessionHandover, socket: StreamSocket, delegate: ServerConnectionDelegate) -> WebSocketConnection? {
        let compression = handover.connection.deflate.map {
            ConnectionCompression(parameters: $0, role: .server, workspace: context.compression, minimumBytes: minimumCompressedBytes)
        }
        guard let connection = WebSocketConnection(adopting: handover.connection, socket: socket, limits: context.connectionLimits,
                                                   route: limits, compression: compression, delegate: delegate) else { return nil }
        socket.outboundHighWater = max(context.configuration.maxQueueBytes, 2 * limits.maxMessageBytes + 64)
        let session = MarketSession(connection: connection, version: handover.version, endpoint: self,
                                    claims: handover.claims)
        connection.session = session
        guard session.resume(subscriptions: handover.subscriptions, conflatingFor: handover.conflatingFor) else {
            connection.close(code: .goingAway, reason: "server restarting")
            return connection
        }
        return connection
    }
}
