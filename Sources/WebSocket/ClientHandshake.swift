import HTTP

/// The client side of the opening handshake (RFC 6455 §4.1), for the load-test client.
public struct ClientHandshake: Sendable {
    public let key: String
    public let offeredSubprotocols: [String]

    /// `nonce` is the 16 random bytes behind the key.
    public init(nonce: [UInt8], offeredSubprotocols: [String] = []) {
        precondition(nonce.count == 16, "the key nonce is 16 bytes")
        self.key = Base64.encode(nonce)
        self.offeredSubprotocols = offeredSubprotocols
    }

    /// The upgrade request bytes.
    public func request(host: String, path: String, extraHeaders: [(name: String, value: String)] = []) -> [UInt8] {
        var text = "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        text += "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n"
        if !offeredSubprotocols.isEmpty {
            text += "Sec-WebSocket-Protocol: \(offeredSubprotocols.joined(separator: ", "))\r\n"
        }
        for (name, value) in extraHeaders { text += "\(name): \(value)\r\n" }
        text += "\r\n"
        return Array(text.utf8)
    }

    public enum Failure: Error, Equatable, Sendable {
        case status(Int)
        case missingUpgrade
        case wrongAccept
        /// The server chose a subprotocol the client did not offer.
        case unofferedSubprotocol(String)
    }

    /// Checks the server's response; success carries the subprotocol it chose, if any.
    public func validate(_ response: HTTPResponseHead) -> Result<String?, Failure> {
        guard response.status == 101 else { return .failure(.status(response.status)) }
        guard response.hasToken("upgrade", "websocket"), response.hasToken("connection", "upgrade") else {
            return .failure(.missingUpgrade)
        }
        guard response.header("sec-websocket-accept") == ServerHandshake.acceptValue(forKey: key) else {
            return .failure(.wrongAccept)
        }
        let chosen = response.header("sec-websocket-protocol")
        if let chosen, !offeredSubprotocols.contains(chosen) { return .failure(.unofferedSubprotocol(chosen)) }
        return .success(chosen)
    }
}
