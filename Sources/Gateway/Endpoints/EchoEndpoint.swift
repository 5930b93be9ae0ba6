import Auth
import Connection
import WebSocket

/// `/echo`: sends every message back with the same opcode. This is what the Autobahn
/// conformance run drives, so its message limit is its own (`--echo-max-message-bytes`, 16 MiB by default)
/// and it has no rate limit.
/// Stateless: one object serves every connection.
final class EchoEndpoint: WebSocketEndpoint, WebSocketSession {
    let subprotocols: [String] = []
    let limits: RouteLimits
    /// Every reply is compressed once deflate is agreed: the conformance runner's text path
    /// only copes with compressed replies on such a connection (RFC 7692 would allow plain).
    let minimumCompressedBytes = 0

    /// Serves `/echo` (conformance testing).
    static func register(on router: Router, maxMessageBytes: Int) {
        router.addWebSocket("/echo", endpoint: EchoEndpoint(maxMessageBytes: maxMessageBytes))
    }

    init(maxMessageBytes: Int) { limits = RouteLimits(maxMessageBytes: maxMessageBytes) }

    func openSession(for connection: WebSocketConnection, subprotocol: String?, claims: AccessClaims?) -> WebSocketSession { self }

    func connection(_ connection: WebSocketConnection, didReceive opcode: Opcode, payload: UnsafeRawBufferPointer) {
        connection.send(opcode: opcode, payload: payload)
    }
}
