import HTTP
import WebSocket

/// `/echo`: sends every message back with the same opcode. This is what the Autobahn
/// conformance run drives, so it accepts messages up to `--max-message-bytes`.
/// Stateless: one object serves every connection.
final class EchoEndpoint: WebSocketEndpoint, WebSocketSession {
    let subprotocols: [String] = []

    func openSession(for connection: ClientConnection, subprotocol: String?) -> WebSocketSession { self }

    func connection(_ connection: ClientConnection, didReceive opcode: Opcode, payload: UnsafeRawBufferPointer) {
        connection.sendFrame(opcode: opcode, payload: payload)
    }
}
