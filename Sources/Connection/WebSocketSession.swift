import WebSocket

/// What serves one open WebSocket connection: an endpoint's per-connection logic on the
/// server (market data, feed ingest, echo), a workload on a client. The connection handles
/// framing, control frames, the close handshake and timeouts; the session sees only data
/// messages and the connection's life events.
public protocol WebSocketSession: AnyObject {
    /// The handshake completed (client role; a server session is created at the upgrade).
    func connectionDidOpen(_ connection: WebSocketConnection, subprotocol: String?)
    /// A complete text or binary message; `payload` is valid only during the call.
    func connection(_ connection: WebSocketConnection, didReceive opcode: Opcode, payload: UnsafeRawBufferPointer)
    /// Some queued output was written (only while `socket.notifiesWrites` is set).
    func connectionDidWrite(_ connection: WebSocketConnection)
    /// A message (or ping) from the peer was dropped for going over the route's rate limit;
    /// `first` marks the first one refused in a row, the one worth telling the client about.
    func connectionRefusedMessageOverRate(_ connection: WebSocketConnection, first: Bool)
    /// The connection is gone. `closeCode` is the peer's Close code if one arrived; `error`
    /// says what went wrong when it did not end with a close handshake.
    func connectionDidClose(_ connection: WebSocketConnection, closeCode: CloseCode?, error: String?)
}

extension WebSocketSession {
    public func connectionDidOpen(_ connection: WebSocketConnection, subprotocol: String?) {}
    public func connectionDidWrite(_ connection: WebSocketConnection) {}
    public func connectionRefusedMessageOverRate(_ connection: WebSocketConnection, first: Bool) {}
    public func connectionDidClose(_ connection: WebSocketConnection, closeCode: CloseCode?, error: String?) {}
}
