import HTTP
import WebSocket

/// A WebSocket route: who may connect, which subprotocols it speaks, and the session that
/// serves each connection. The connection handles framing, control frames and the close
/// handshake; the session sees only data messages.
protocol WebSocketEndpoint: AnyObject {
    /// Subprotocols accepted; the client's first offer in this list is chosen.
    var subprotocols: [String] { get }
    /// A refusal to send instead of upgrading (401, 400...), or nil to accept.
    func refusal(for head: HTTPRequestHead, subprotocol: String?) -> HTTPResponseError?
    /// The session for a connection that just upgraded.
    func openSession(for connection: ClientConnection, subprotocol: String?) -> WebSocketSession
}

extension WebSocketEndpoint {
    func refusal(for head: HTTPRequestHead, subprotocol: String?) -> HTTPResponseError? { nil }
}

/// What serves one upgraded connection.
protocol WebSocketSession: AnyObject {
    /// A complete text or binary message; `payload` is valid only during the call.
    func connection(_ connection: ClientConnection, didReceive opcode: Opcode, payload: UnsafeRawBufferPointer)
    /// Some of the connection's queued output was written.
    func connectionDidWrite(_ connection: ClientConnection)
    /// A drain is about to close this connection with 1001.
    func connectionWillDrain(_ connection: ClientConnection, retryAfterMilliseconds: Int)
    /// The connection is gone.
    func connectionDidClose(_ connection: ClientConnection)
}

extension WebSocketSession {
    func connectionWillDrain(_ connection: ClientConnection, retryAfterMilliseconds: Int) {}
    func connectionDidWrite(_ connection: ClientConnection) {}
    func connectionDidClose(_ connection: ClientConnection) {}
}
