import WebSocket

/// `/echo`: sends every message back with the same opcode. This is what the Autobahn
/// conformance run drives, so it accepts messages up to `--max-message-bytes`.
final class EchoEndpoint: WebSocketEndpoint {
    func connection(_ connection: ClientConnection, didReceive opcode: Opcode, payload: UnsafeRawBufferPointer) {
        connection.sendFrame(opcode: opcode, payload: payload)
    }

    func connectionDidClose(_ connection: ClientConnection) {}
}
