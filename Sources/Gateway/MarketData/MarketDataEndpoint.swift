import Connection
import MarketData

/// `/ws`: market data for trading clients. The subprotocol decides v1 or v2 for the
/// connection's lifetime; nothing offered, or nothing we support, means v1.
final class MarketDataEndpoint: WebSocketEndpoint {
    let subprotocols = ProtocolVersion.supportedTokens
    let maxMessageBytes: Int
    var minimumCompressedBytes: Int { context.configuration.deflateMinBytes }
    private let context: GatewayContext
    private let service: MarketDataService

    init(context: GatewayContext, service: MarketDataService) {
        self.context = context
        self.service = service
        maxMessageBytes = context.configuration.maxMessageBytes
    }

    func openSession(for connection: WebSocketConnection, subprotocol: String?) -> WebSocketSession {
        let version = subprotocol.flatMap(ProtocolVersion.init(rawValue:)) ?? .v1
        return MarketSession(connection: connection, version: version, service: service, context: context)
    }
}
