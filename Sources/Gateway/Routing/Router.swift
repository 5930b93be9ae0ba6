import Auth
import HTTP
import WebSocket

/// What to do with a request.
enum RouteResult {
    /// Answer with this response.
    case respond(HTTPResponse)
    /// Switch the connection to WebSocket, served by `endpoint`, after sending `response`,
    /// with permessage-deflate when `compression` is set and what the request's token granted.
    case upgrade(WebSocketEndpoint, subprotocol: String?, compression: DeflateParameters?, claims: AccessClaims?,
                 response: HTTPResponse)
}

/// Maps requests to endpoints. WebSocket paths go through the origin and handshake checks
/// (403; 400, 426); plain paths check the method (405 with Allow); anything else is 404.
final class Router {
    struct HTTPRoute {
        let methods: [String]
        let handle: (HTTPRequestHead, UnsafeRawBufferPointer) -> HTTPResponse
    }

    private var webSocketRoutes: [String: WebSocketEndpoint] = [:]
    private var httpRoutes: [String: HTTPRoute] = [:]
    /// Whether upgrades may negotiate permessage-deflate (`--deflate`).
    var acceptsCompression = false
    /// Web origins that may open WebSockets (`--allowed-origins`); nil allows any.
    var allowedOrigins: OriginPolicy?

    func addWebSocket(_ path: String, endpoint: WebSocketEndpoint) {
        webSocketRoutes[path] = endpoint
    }

    func addHTTP(_ path: String, methods: [String], handle: @escaping (HTTPRequestHead, UnsafeRawBufferPointer) -> HTTPResponse) {
        httpRoutes[path] = HTTPRoute(methods: methods, handle: handle)
    }

    /// Whether a request is an attempt to open a WebSocket (for the handshake metrics).
    func isUpgradeAttempt(_ head: HTTPRequestHead) -> Bool {
        webSocketRoutes[head.path] != nil || ServerHandshake.isUpgradeRequest(head)
    }

    /// `draining`: upgrades are refused with 503 and Retry-After so clients go elsewhere.
    func route(_ head: HTTPRequestHead, body: UnsafeRawBufferPointer, draining: Bool) -> RouteResult {
        if let endpoint = webSocketRoutes[head.path] {
            if draining {
                return .respond(HTTPResponse(status: .serviceUnavailable, contentType: "text/plain; charset=utf-8",
                                             body: "draining for a deploy: connect to another instance\n",
                                             headers: [("Retry-After", "1")]))
            }
            if let allowedOrigins, let origin = head.header("origin"), !allowedOrigins.allows(origin) {
                return .respond(HTTPResponse(status: .forbidden, contentType: "text/plain; charset=utf-8",
                                             body: "this origin may not open WebSockets here (--allowed-origins)\n"))
            }
            switch ServerHandshake.validate(head) {
            case .failure(let error):
                return .respond(error.response)
            case .success(let key):
                let subprotocol = ServerHandshake.selectSubprotocol(head, supported: endpoint.subprotocols)
                let claims: AccessClaims?
                switch endpoint.authorize(head, subprotocol: subprotocol) {
                case .failure(let refusal): return .respond(refusal.response)
                case .success(let granted): claims = granted
                }
                var compression: DeflateParameters?
                if acceptsCompression {
                    switch DeflateNegotiation.negotiate(offers: head.values("sec-websocket-extensions")) {
                    case .malformed(let reason):
                        return .respond(HTTPResponseError(.badRequest, reason).response)
                    case .none:
                        break
                    case .accept(let parameters):
                        compression = parameters
                    }
                }
                let extensions = compression.map { [(name: "Sec-WebSocket-Extensions", value: $0.responseHeader)] } ?? []
                return .upgrade(endpoint, subprotocol: subprotocol, compression: compression, claims: claims,
                                response: ServerHandshake.response(key: key, subprotocol: subprotocol, extraHeaders: extensions))
            }
        }
        if let route = httpRoutes[head.path] {
            guard route.methods.contains(head.method) else {
                return .respond(HTTPResponse(status: .methodNotAllowed, contentType: "text/plain; charset=utf-8",
                                             body: "use \(route.methods.joined(separator: " or "))\n",
                                             headers: [("Allow", route.methods.joined(separator: ", "))]))
            }
            return .respond(route.handle(head, body))
        }
        return .respond(HTTPResponse(status: .notFound, contentType: "text/plain; charset=utf-8", body: "no such endpoint\n"))
    }
}
