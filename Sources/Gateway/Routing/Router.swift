import HTTP
import WebSocket

/// What to do with a request.
enum RouteResult {
    /// Answer with this response.
    case respond(HTTPResponse)
    /// Switch the connection to WebSocket, served by `endpoint`, after sending `response`.
    case upgrade(WebSocketEndpoint, subprotocol: String?, response: HTTPResponse)
}

/// Maps requests to endpoints. WebSocket paths go through the handshake checks (400, 426);
/// plain paths check the method (405 with Allow); anything else is 404.
final class Router {
    struct WebSocketRoute {
        let endpoint: WebSocketEndpoint
        /// Subprotocols offered by the client that this route accepts, in no preference order:
        /// the client's first offer that is in this list wins.
        let subprotocols: [String]
    }

    struct HTTPRoute {
        let methods: [String]
        let handle: (HTTPRequestHead, UnsafeRawBufferPointer) -> HTTPResponse
    }

    private var webSocketRoutes: [String: WebSocketRoute] = [:]
    private var httpRoutes: [String: HTTPRoute] = [:]

    func addWebSocket(_ path: String, endpoint: WebSocketEndpoint, subprotocols: [String] = []) {
        webSocketRoutes[path] = WebSocketRoute(endpoint: endpoint, subprotocols: subprotocols)
    }

    func addHTTP(_ path: String, methods: [String], handle: @escaping (HTTPRequestHead, UnsafeRawBufferPointer) -> HTTPResponse) {
        httpRoutes[path] = HTTPRoute(methods: methods, handle: handle)
    }

    func route(_ head: HTTPRequestHead, body: UnsafeRawBufferPointer) -> RouteResult {
        if let route = webSocketRoutes[head.path] {
            switch ServerHandshake.validate(head) {
            case .failure(let error):
                return .respond(error.response)
            case .success(let key):
                let subprotocol = ServerHandshake.selectSubprotocol(head, supported: route.subprotocols)
                return .upgrade(route.endpoint, subprotocol: subprotocol,
                                response: ServerHandshake.response(key: key, subprotocol: subprotocol))
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
