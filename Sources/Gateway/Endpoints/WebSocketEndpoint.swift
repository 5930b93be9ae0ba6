import WebSocket

/// What a WebSocket route does with the messages of one connection. The connection handles
/// framing, control frames and the close handshake; the endpoint sees only data messages.
protocol WebSocketEndpoint: AnyObject {
    /// A complete text or binary message; `payload` is valid only during the call.
    func connection(_ connection: ClientConnection, didReceive opcode: Opcode, payload: UnsafeRawBufferPointer)
    /// The connection is gone.
    func connectionDidClose(_ connection: ClientConnection)
}
