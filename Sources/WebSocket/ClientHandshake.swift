import ByteBuffers
import HTTP

/// The client side of the opening handshake (RFC 6455 §4.1), for the load-test client.
public struct ClientHandshake: Sendable {
    public let key: String
    public let offeredSubprotocols: [String]
    /// Whether the request offers permessage-deflate (`DeflateNegotiation.clientOffer`).
    public let offersCompression: Bool

    /// `nonce` is the 16 random bytes behind the key.
    public init(nonce: [UInt8], offeredSubprotocols: [String] = [], offersCompression: Bool = false) {
        precondition(nonce.count == 16, "the key nonce is 16 bytes")
        self.key = Base64.encode(nonce)
        self.offeredSubprotocols = offeredSubprotocols
        self.offersCompression = offersCompression
    }

    /// What the server's 101 settled.
    public struct Agreement: Sendable, Equatable {
        public var subprotocol: String?
        /// permessage-deflate as the server accepted it; nil: no compression.
        public var compression: DeflateParameters?

        public init(subprotocol: String?, compression: DeflateParameters? = nil) {
            self.subprotocol = subprotocol
            self.compression = compression
        }
    }

    /// The upgrade request bytes.
    public func request(host: String, path: String, extraHeaders: [(name: String, value: String)] = []) -> [UInt8] {
        var text = "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        text += "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n"
        if !offeredSubprotocols.isEmpty {
            text += "Sec-WebSocket-Protocol: \(offeredSubprotocols.joined(separator: ", "))\r\n"
        }
        if offersCompression { text += "Sec-WebSocket-Extensions: \(DeflateNegotiation.clientOffer)\r\n" }
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
        /// The server's Sec-WebSocket-Extensions is not an answer to what was offered.
        case badExtensions(String)
    }

    /// Checks the server's response; success carries the subprotocol and compression it chose.
    public func validate(_ response: HTTPResponseHead) -> Result<Agreement, Failure> {
        guard response.status == 101 else { return .failure(.status(response.status)) }
        guard response.hasToken("upgrade", "websocket"), response.hasToken("connection", "upgrade") else {
            return .failure(.missingUpgrade)
        }
        guard response.header("sec-websocket-accept") == ServerHandshake.acceptValue(forKey: key) else {
            return .failure(.wrongAccept)
        }
        let chosen = response.header("sec-websocket-protocol")
        if let chosen, !offeredSubprotocols.contains(chosen) { return .failure(.unofferedSubprotocol(chosen)) }
        let extensions = response.values("sec-websocket-extensions")
        if !offersCompression && !extensions.isEmpty { return .failure(.badExtensions("extensions accepted but none offered")) }
        switch DeflateNegotiation.clientAccept(response: extensions) {
        case .failure(let error): return .failure(.badExtensions(error.description))
        case .success(let compression): return .success(Agreement(subprotocol: chosen, compression: compression))
        }
    }
}
