import EventLoop

/// A `ws://HOST:PORT/PATH` target. The host must be an IP literal or `localhost`: the load
/// test measures the gateway, not name resolution.
struct WebSocketURL: Sendable, CustomStringConvertible {
    let host: String
    let port: Int
    let path: String
    let address: SocketAddress
    /// wss://: the connection speaks TLS.
    let secure: Bool

    init?(_ text: String) {
        if text.hasPrefix("ws://") {
            secure = false
        } else if text.hasPrefix("wss://") {
            secure = true
        } else {
            return nil
        }
        let rest = text.dropFirst(secure ? 6 : 5)
        let authority = rest.prefix(while: { $0 != "/" })
        let path = rest.dropFirst(authority.count)
        var host = String(authority)
        var port = secure ? 443 : 80
        if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") {
            guard let parsed = Int(authority[authority.index(after: colon)...]) else { return nil }
            host = String(authority[..<colon])
            port = parsed
        }
        host = host.trimmingBrackets()
        let literal = host == "localhost" ? "127.0.0.1" : host
        guard let address = SocketAddress(host: literal, port: port) else { return nil }
        self.host = host
        self.port = port
        self.path = path.isEmpty ? "/" : String(path)
        self.address = address
    }

    var hostHeader: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    var scheme: String { secure ? "wss" : "ws" }

    var description: String { "\(scheme)://\(hostHeader)\(path)" }
}

extension String {
    fileprivate func trimmingBrackets() -> String {
        hasPrefix("[") && hasSuffix("]") ? String(dropFirst().dropLast()) : self
    }
}
