import Connection
import HTTP
import WebSocket

/// A WebSocket route: who may connect, which subprotocols it speaks, how large its messages
/// may be, and the session that serves each connection. The connection handles framing,
/// control frames and the close handshake; the session sees only data messages.
protocol WebSocketEndpoint: AnyObject {
    /// Subprotocols accepted; the client's first offer in this list is chosen.
    var subprotocols: [String] { get }
    /// This route's largest message (summed over fragments); larger closes with 1009. With
    /// permessage-deflate the limit applies to the inflated message.
    var maxMessageBytes: Int { get }
    /// With permessage-deflate, messages its sessions send themselves are compressed from this
    /// size up (shared market-data frames follow `--deflate-min-bytes` in the fan-out).
    var minimumCompressedBytes: Int { get }
    /// A refusal to send instead of upgrading (401, 400...), or nil to accept.
    func refusal(for head: HTTPRequestHead, subprotocol: String?) -> HTTPResponseError?
    /// The session for a connection that just upgraded.
    func openSession(for connection: WebSocketConnection, subprotocol: String?) -> WebSocketSession
}

extension WebSocketEndpoint {
    func refusal(for head: HTTPRequestHead, subprotocol: String?) -> HTTPResponseError? { nil }
}

/// A session with something to say before a drain closes its connection with 1001.
protocol DrainableSession: WebSocketSession {
    /// Called just before the connection's Close 1001 is queued.
    func connectionWillDrain(_ connection: WebSocketConnection, retryAfterMilliseconds: Int)
}
