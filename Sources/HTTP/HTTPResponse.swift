/// An HTTP/1.1 response, serialised in one piece. Responses are cold-path: handshakes,
/// health checks, metrics scrapes.
public struct HTTPResponse: Sendable {
    public var status: HTTPStatus
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: HTTPStatus, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A response with a text body and its content type.
    public init(status: HTTPStatus, contentType: String, body: String, headers: [(name: String, value: String)] = []) {
        self.init(status: status, headers: [("Content-Type", contentType)] + headers, body: Array(body.utf8))
    }

    /// The wire bytes. Content-Length is added for every status that may carry a body, and
    /// `Connection: close` when the connection will not be reused. A response to HEAD keeps
    /// the Content-Length of the body it leaves out.
    public func serialized(keepAlive: Bool, forHead: Bool = false) -> [UInt8] {
        var text = "HTTP/1.1 \(status.code) \(status.reason)\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if status.code != 101 {
            text += "Content-Length: \(body.count)\r\n"
            if !keepAlive { text += "Connection: close\r\n" }
        }
        text += "\r\n"
        return forHead ? Array(text.utf8) : Array(text.utf8) + body
    }
}
