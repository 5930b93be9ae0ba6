import MarketData

/// `/ws`: market data for trading clients. The subprotocol decides v1 or v2 for the
/// connection's lifetime; nothing offered, or nothing we support, means v1.
final class MarketDataEndpoint: WebSocketEndpoint {
    let subprotocols = ProtocolVersion.supportedTokens
    private unowned(unsafe) let gateway: Gateway

    init(gateway: Gateway) { self.gateway = gateway }

    func openSession(for connection: ClientConnection, subprotocol: String?) -> WebSocketSession {
        let version = subprotocol.flatMap(ProtocolVersion.init(rawValue:)) ?? .v1
        return MarketSession(connection: connection, version: version, gateway: gateway)
    }
}
