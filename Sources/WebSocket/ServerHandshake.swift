import ByteBuffers
import HTTP

/// The server side of the opening handshake (RFC 6455 §4.2): checks an upgrade request and
/// builds the 101 response or the error to send instead.
public enum ServerHandshake {
    /// The GUID that RFC 6455 appends to the client's key before hashing.
    static let acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    /// Whether a request asks to upgrade at all (so a plain GET can be served as HTTP).
    public static func isUpgradeRequest(_ head: HTTPRequestHead) -> Bool {
        head.hasToken("upgrade", "websocket") || head.header("sec-websocket-key") != nil
    }

    /// Checks an upgrade request. On success returns the client's key; otherwise the response
    /// that explains what is wrong (400, or 426 naming version 13).
    public static func validate(_ head: HTTPRequestHead) -> Swift.Result<String, HTTPResponseError> {
        guard head.method == "GET" else {
            return .failure(HTTPResponseError(.badRequest, "a WebSocket upgrade must use GET"))
        }
        guard head.minorVersion >= 1 else {
            return .failure(HTTPResponseError(.badRequest, "a WebSocket upgrade needs HTTP/1.1"))
        }
        guard head.hasToken("upgrade", "websocket") else {
            return .failure(HTTPResponseError(.badRequest, "missing Upgrade: websocket"))
        }
        guard head.hasToken("connection", "upgrade") else {
            return .failure(HTTPResponseError(.badRequest, "missing Connection: Upgrade"))
        }
        guard let version = head.header("sec-websocket-version") else {
            return .failure(HTTPResponseError(.badRequest, "missing Sec-WebSocket-Version"))
        }
        guard version == "13" else {
            return .failure(HTTPResponseError(.upgradeRequired, "only WebSocket version 13 is supported",
                                              headers: [("Sec-WebSocket-Version", "13")]))
        }
        let keys = head.values("sec-websocket-key")
        guard keys.count == 1, let decoded = Base64.decode(keys[0]), decoded.count == 16 else {
            return .failure(HTTPResponseError(.badRequest, "Sec-WebSocket-Key must be 16 bytes in base64"))
        }
        return .success(keys[0])
    }

    /// The Sec-WebSocket-Accept value for a client key.
    public static func acceptValue(forKey key: String) -> String {
        Base64.encode(SHA1.digest(Array((key + acceptGUID).utf8)))
    }

    /// The first subprotocol the client offered that the server supports, or nil.
    public static func selectSubprotocol(_ head: HTTPRequestHead, supported: [String]) -> String? {
        head.tokens("sec-websocket-protocol").first(where: { supported.contains($0) })
    }

    /// The 101 response completing the handshake.
    public static func response(key: String, subprotocol: String?, extraHeaders: [(name: String, value: String)] = []) -> HTTPResponse {
        var headers: [(name: String, value: String)] = [
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Accept", acceptValue(forKey: key)),
        ]
        if let subprotocol { headers.append(("Sec-WebSocket-Protocol", subprotocol)) }
        return HTTPResponse(status: .switchingProtocols, headers: headers + extraHeaders)
    }
}

/// A request refused with an HTTP status, a reason for the body and logs, and extra headers.
public struct HTTPResponseError: Error, Sendable {
    public let status: HTTPStatus
    public let reason: String
    public let headers: [(name: String, value: String)]

    public init(_ status: HTTPStatus, _ reason: String, headers: [(name: String, value: String)] = []) {
        self.status = status
        self.reason = reason
        self.headers = headers
    }

    public var response: HTTPResponse {
        HTTPResponse(status: status, contentType: "text/plain; charset=utf-8", body: reason + "\n", headers: headers)
    }
}
