import ByteBuffers
import HTTP
import Testing
@testable import WebSocket

@Suite struct HandshakeTests {
    func head(_ lines: [String], method: String = "GET", version: Int = 1) -> HTTPRequestHead {
        let headers = lines.map { line -> (name: String, value: String) in
            let parts = line.split(separator: ":", maxSplits: 1)
            return (String(parts[0]).lowercased(), String(parts[1]).trimmingCharacters(in: " "))
        }
        return HTTPRequestHead(method: method, target: "/echo", minorVersion: version, headers: headers)
    }

    let good = ["Host: a", "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"]

    @Test func acceptKeyMatchesRFC6455Example() {
        // RFC 6455 §1.3.
        #expect(ServerHandshake.acceptValue(forKey: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test func acceptsAGoodRequest() throws {
        let key = try ServerHandshake.validate(head(good)).get()
        #expect(key == "dGhlIHNhbXBsZSBub25jZQ==")
        let response = String(decoding: ServerHandshake.response(key: key, subprotocol: "v2").serialized(keepAlive: true), as: UTF8.self)
        #expect(response.hasPrefix("HTTP/1.1 101 Switching Protocols\r\n"))
        #expect(response.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"))
        #expect(response.contains("Sec-WebSocket-Protocol: v2\r\n"))
    }

    func status(_ head: HTTPRequestHead) -> Int? {
        if case .failure(let error) = ServerHandshake.validate(head) { return error.status.code }
        return nil
    }

    @Test func refusals() {
        #expect(status(head(good, method: "POST")) == 400)
        #expect(status(head(good.filter { !$0.hasPrefix("Upgrade") })) == 400)
        #expect(status(head(good.filter { !$0.hasPrefix("Connection") })) == 400)
        #expect(status(head(good.filter { !$0.hasPrefix("Sec-WebSocket-Key") })) == 400)
        #expect(status(head(good.filter { !$0.hasPrefix("Sec-WebSocket-Version") })) == 400)
        #expect(status(head(good.map { $0.hasPrefix("Sec-WebSocket-Key") ? "Sec-WebSocket-Key: c2hvcnQ=" : $0 })) == 400)
        #expect(status(head(good.map { $0.hasPrefix("Sec-WebSocket-Key") ? "Sec-WebSocket-Key: not base64!!!!!!!!!!!" : $0 })) == 400)
        #expect(status(head(good.map { $0.hasPrefix("Sec-WebSocket-Version") ? "Sec-WebSocket-Version: 8" : $0 })) == 426)
        #expect(status(head(good, version: 0)) == 400)
    }

    @Test func versionRefusalNamesVersion13() {
        guard case .failure(let error) = ServerHandshake.validate(head(good.map { $0.hasPrefix("Sec-WebSocket-Version") ? "Sec-WebSocket-Version: 8" : $0 })) else {
            Issue.record("version 8 accepted")
            return
        }
        #expect(error.headers.contains { $0.name == "Sec-WebSocket-Version" && $0.value == "13" })
    }

    @Test func tokensAreCaseInsensitive() {
        let mixed = ["Host: a", "Upgrade: WebSocket", "Connection: keep-alive, UPGRADE", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"]
        #expect(status(head(mixed)) == nil)
    }

    @Test func subprotocolIsTheFirstSupportedOffer() {
        func pick(_ offer: String) -> String? {
            ServerHandshake.selectSubprotocol(head(good + ["Sec-WebSocket-Protocol: \(offer)"]), supported: ["v1", "v2"])
        }
        #expect(pick("v2, v1") == "v2")
        #expect(pick("v1, v2") == "v1")
        #expect(pick("v3, v2") == "v2")
        #expect(pick("v3") == nil)
    }

    @Test func base64RoundTrip() {
        for length in 0..<20 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 37 + 11) }
            #expect(Base64.decode(Base64.encode(bytes)) == bytes)
        }
        #expect(Base64.decode("abc") == nil)
        #expect(Base64.decode("ab=c") == nil)
    }

    @Test func closePayloadFitsControlFrameOnCharacterBoundary() {
        let payload = FrameEncoder.closePayload(code: .goingAway, reason: String(repeating: "é", count: 100))
        #expect(payload.count <= 125)
        #expect(payload.count % 2 == 0)  // code (2) + whole two-byte characters
        #expect(String(validating: payload[2...], as: UTF8.self) != nil)
    }
}

extension String {
    func trimmingCharacters(in set: Character) -> String {
        String(drop(while: { $0 == set }).reversed().drop(while: { $0 == set }).reversed())
    }
}

@Suite struct ClientHandshakeTests {
    @Test func clientAndServerAgree() throws {
        let client = ClientHandshake(nonce: Array(0..<16), offeredSubprotocols: ["v2", "v1"])
        let requestBytes = client.request(host: "127.0.0.1:8080", path: "/ws")
        guard case .complete(let head, _) = requestBytes.withUnsafeBytes({ HTTPRequestParser().parse($0) }) else {
            Issue.record("server parser refused the client's request")
            return
        }
        let key = try ServerHandshake.validate(head).get()
        let chosen = ServerHandshake.selectSubprotocol(head, supported: ["v1", "v2"])
        let responseBytes = ServerHandshake.response(key: key, subprotocol: chosen).serialized(keepAlive: true)
        guard case .complete(let response, let consumed) = responseBytes.withUnsafeBytes({ HTTPResponseParser.parse($0) }) else {
            Issue.record("client parser refused the server's response")
            return
        }
        #expect(consumed == responseBytes.count)
        #expect(client.validate(response) == .success(.init(subprotocol: "v2")))
    }

    @Test func clientRejectsBadResponses() {
        let client = ClientHandshake(nonce: Array(repeating: 1, count: 16), offeredSubprotocols: ["v1"])
        func check(_ text: String) -> Result<ClientHandshake.Agreement, ClientHandshake.Failure>? {
            guard case .complete(let head, _) = Array(text.utf8).withUnsafeBytes({ HTTPResponseParser.parse($0) }) else { return nil }
            return client.validate(head)
        }
        let accept = ServerHandshake.acceptValue(forKey: client.key)
        #expect(check("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n\r\n") == .failure(.status(503)))
        #expect(check("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: wrong\r\n\r\n") == .failure(.wrongAccept))
        #expect(check("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \(accept)\r\nSec-WebSocket-Protocol: v9\r\n\r\n") == .failure(.unofferedSubprotocol("v9")))
        #expect(check("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \(accept)\r\n\r\n") == .success(.init(subprotocol: nil)))
        // Extensions the client never offered.
        #expect(check("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \(accept)\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n")
                == .failure(.badExtensions("extensions accepted but none offered")))
    }

    @Test func aClientThatOffersDeflateReadsTheAnswer() {
        let client = ClientHandshake(nonce: Array(repeating: 2, count: 16), offersCompression: true)
        #expect(String(decoding: client.request(host: "h", path: "/"), as: UTF8.self)
                    .contains("Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; client_max_window_bits\r\n"))
        let accept = ServerHandshake.acceptValue(forKey: client.key)
        let text = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \(accept)\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n\r\n"
        guard case .complete(let head, _) = Array(text.utf8).withUnsafeBytes({ HTTPResponseParser.parse($0) }) else {
            Issue.record("unparsed"); return
        }
        #expect(client.validate(head) == .success(.init(subprotocol: nil, compression: DeflateParameters(serverNoContextTakeover: true, clientNoContextTakeover: true))))
    }
}
