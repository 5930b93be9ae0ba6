import Auth
import Connection
import HTTP
import WebSocket

/// A WebSocket route: who may connect, which subprotocols it speaks, how large its messages
/// may be, and the session that serves each connection. The connection handles framing,
/// control frames and the close handshake; the session sees only data messages.
protocol WebSocketEndpoint: AnyObject {
    /// Subprotocols accepted; the client's first offer in this list is chosen.
    var subprotocols: [String] { get }
    /// This route's own bounds: its largest message (summed over fragments and, with
    /// permessage-deflate, inflated; larger closes with 1009) and the client's message rate.
    var limits: RouteLimits { get }
    /// With permessage-deflate, messages its sessions send themselves are compressed from this
    /// size up (shared market-data frames follow `--deflate-min-bytes` in the fan-out).
    var minimumCompressedBytes: Int { get }
    /// Whether this request may open a WebSocket here: what its token grants (nil when the
    /// route reads no token), or the refusal to send instead (401, 400...).
    func authorize(_ head: HTTPRequestHead, subprotocol: String?) -> Result<AccessClaims?, HTTPResponseError>
    /// The session for a connection that just upgraded, with what `authorize` granted.
    func openSession(for connection: WebSocketConnection, subprotocol: String?, claims: AccessClaims?) -> WebSocketSession
}

extension WebSocketEndpoint {
    func authorize(_ head: HTTPRequestHead, subprotocol: String?) -> Result<AccessClaims?, HTTPResponseError> { .success(nil) }
}

/// A session with something to say before a drain closes its connection with 1001.
protocol DrainableSession: WebSocketSession {
    /// Called just before the connection's Close 1001 is queued.
    func connectionWillDrain(_ connection: WebSocketConnection, retryAfterMilliseconds: Int)
}
