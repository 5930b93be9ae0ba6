import Connection
import MarketData

/// Encodes control replies (acks, errors, notices) and queues each on one connection. They are
/// copied into the connection's output at once, so one scratch writer serves every connection.
final class ControlReplies {
    private var writer = ByteWriter(capacity: 1024)

    /// Encodes a text message with `write` and queues it on `connection` alone.
    func send(on connection: WebSocketConnection, _ write: (inout ByteWriter) -> Void) {
        writer.reset()
        write(&writer)
        connection.send(opcode: .text, payload: writer.bytes)
    }
}
