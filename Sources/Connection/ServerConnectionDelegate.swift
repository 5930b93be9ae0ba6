import HTTP
import WebSocket

/// What a server connection does with a complete request.
public enum RequestOutcome {
    /// Answer and keep reading requests (`keepAlive`) or close after the answer. `headOnly`
    /// sends the head without the body (HEAD requests).
    case respond(HTTPResponse, keepAlive: Bool, headOnly: Bool)
    /// Send `response` (101) and switch to WebSocket within this route's `limits`, with
    /// `compression` if permessage-deflate was agreed; `openSession` makes the session, given
    /// the upgraded connection.
    case upgrade(HTTPResponse, subprotocol: String?, limits: RouteLimits, compression: ConnectionCompression?,
                 openSession: (WebSocketConnection) -> WebSocketSession)
}

/// The server side's plug into its connections: routing, and the events its counters and
/// connection table need. Called on the loop thread.
public protocol ServerConnectionDelegate: AnyObject {
    /// Decides what to do with a complete request.
    func connection(_ connection: WebSocketConnection, route head: HTTPRequestHead, body: UnsafeRawBufferPointer) -> RequestOutcome
    /// The connection answered a request by itself: malformed (4xx/5xx) or too slow (408).
    func connection(_ connection: WebSocketConnection, didReject status: HTTPStatus)
    func connectionDidUpgrade(_ connection: WebSocketConnection)
    func connection(_ connection: WebSocketConnection, didSendClose code: CloseCode)
    /// The peer's Close code (1005 for an empty Close; 1006 when TCP ended without one).
    func connection(_ connection: WebSocketConnection, didReceiveClose code: CloseCode)
    /// The peer did not answer our Close within the close timeout.
    func connectionCloseTimedOut(_ connection: WebSocketConnection)
    /// The TCP connection is gone; `wasWebSocket` tells whether it had upgraded.
    func connectionDidEnd(_ connection: WebSocketConnection, wasWebSocket: Bool)
    /// Where upgraded connections with this message limit borrow a reader while they are
    /// mid-message (see `MessageReaderPool`); nil: each connection keeps a reader of its own.
    /// The same pool for the same limit, every time.
    func readerPool(forMessagesUpTo maxMessageBytes: Int) -> MessageReaderPool?
}

extension ServerConnectionDelegate {
    public func readerPool(forMessagesUpTo maxMessageBytes: Int) -> MessageReaderPool? { nil }
}
