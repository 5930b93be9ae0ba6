import Bus
import Auth
import Connection
import EventLoop
import HTTP
import MarketData
import WebSocket

/// `/feed`: where upstream publishers push updates (subprotocol `feed.v1`), enabled by
/// `--publisher-token` and guarded by `Authorization: Bearer <token>`.
final class FeedEndpoint: WebSocketEndpoint {
    static let subprotocol = "feed.v1"
    let subprotocols = [FeedEndpoint.subprotocol]
    let limits: RouteLimits
    var minimumCompressedBytes: Int { context.configuration.deflateMinBytes }
    private let token: String
    private let context: GatewayContext
    private let service: MarketDataService
    private let ingest: FeedIngest

    /// `ingest` is the service itself (one gateway), or the bus writer (a fleet).
    /// Serves `/feed`. With a bus, publishers feed the fleet: their updates go into it,
    /// numbered there, and come back to every instance (this one included) through its
    /// subscription.
    static func register(on router: Router, token: String, context: GatewayContext, service: MarketDataService, bus: MarketBus?) {
        router.addWebSocket("/feed", endpoint: FeedEndpoint(token: token, context: context, service: service, ingest: bus?.writer ?? service))
    }

    init(token: String, context: GatewayContext, service: MarketDataService, ingest: FeedIngest) {
        self.token = token
        self.context = context
        self.service = service
        self.ingest = ingest
        // Publishers send at the feed's rate: a size bound, no rate limit.
        limits = RouteLimits(maxMessageBytes: context.configuration.feedMaxMessageBytes)
    }

    func authorize(_ head: HTTPRequestHead, subprotocol: String?) -> Result<AccessClaims?, HTTPResponseError> {
        guard BearerToken(token: token).isPresented(in: head) else {
            return .failure(HTTPResponseError(.unauthorized, "publishing needs Authorization: Bearer <publisher token>",
                                              headers: [("WWW-Authenticate", "Bearer")]))
        }
        guard subprotocol != nil else {
            return .failure(HTTPResponseError(.badRequest, "offer Sec-WebSocket-Protocol: \(Self.subprotocol)"))
        }
        return .success(nil)
    }

    func openSession(for connection: WebSocketConnection, subprotocol: String?, claims: AccessClaims?) -> WebSocketSession {
        context.logger.info("publisher connected")
        return FeedSession(context: context, service: service, ingest: ingest)
    }
}

/// One publisher connection: decodes batches, applies the valid updates, and answers each
/// invalid one with an error naming its index.
final class FeedSession: WebSocketSession {
    private let context: GatewayContext
    private let service: MarketDataService
    private let ingest: FeedIngest
    private var decoder = FeedDecoder()

    init(context: GatewayContext, service: MarketDataService, ingest: FeedIngest) {
        self.context = context
        self.service = service
        self.ingest = ingest
    }

    func connection(_ connection: WebSocketConnection, didReceive opcode: Opcode, payload: UnsafeRawBufferPointer) {
        guard opcode == .text else {
            connection.close(code: .unsupportedData, reason: "feed messages are JSON text")
            return
        }
        let service = self.service
        let ingest = self.ingest
        let receivedAt = WallClock.microsecondsSinceEpoch()
        let now = context.loop.now
        let failure = decoder.decode(payload, onUpdate: { index, update in
            if !ingest.ingest(update, receivedAt: receivedAt, now: now) {
                self.replyInvalid(connection, index: index, message: "the gateway tracks at most \(service.limits.maxSymbols) symbols")
            }
        }, onError: { index, message in
            self.replyInvalid(connection, index: index, message: message)
        })
        if let failure {
            context.replies.send(on: connection) { ServerMessages.error(failure, to: &$0) }
            context.metrics.feedErrors &+= 1
        }
    }

    private func replyInvalid(_ connection: WebSocketConnection, index: Int, message: String) {
        context.replies.send(on: connection) { writer in
            writer.write("{\"type\":\"error\",\"code\":\"invalid_update\",\"index\":")
            writer.write(index)
            writer.write(",\"message\":\"")
            writer.writeEscaped(message)
            writer.write("\"}")
        }
        context.metrics.feedErrors &+= 1
    }

    func connectionDidClose(_ connection: WebSocketConnection, closeCode: CloseCode?, error: String?) {
        context.logger.info("publisher disconnected")
    }
}
