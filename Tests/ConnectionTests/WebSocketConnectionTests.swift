import ByteBuffers
import Connection
import EventLoop
import Glibc
import HTTP
import Testing
import TestSupport
import WebSocket

/// Routes `/echo` (subprotocols v2 and v1, message limit `echoLimit`) and records what a server
/// connection reports, as the gateway's registry would.
final class RecordingServer: ServerConnectionDelegate {
    var echoLimit = 1 << 16
    /// The route's message rate, if it has one.
    var messageRate: MessageRateLimit?
    /// What the sessions heard about refused messages: `first` of each refusal, in order.
    var refusals: [Bool] = []
    /// When set, upgrades negotiate permessage-deflate as the gateway does.
    var compression: CompressionWorkspace?
    var rejected: [Int] = []
    var closesSent: [UInt16] = []
    var closesReceived: [UInt16] = []
    var closeTimeouts = 0
    var ended: [Bool] = []
    /// Lends readers as the gateway's registry does, so every connection test here also runs
    /// with readers borrowed mid-message and given back at rest; false: each keeps its own.
    var lendsReaders = true
    private(set) var readerPools: [Int: MessageReaderPool] = [:]

    func connection(_ connection: WebSocketConnection, route head: HTTPRequestHead, body: UnsafeRawBufferPointer) -> RequestOutcome {
        guard head.path == "/echo" else {
            return .respond(HTTPResponse(status: .notFound, contentType: "text/plain", body: "no\n"), keepAlive: head.keepAlive, headOnly: false)
        }
        switch ServerHandshake.validate(head) {
        case .failure(let error):
            return .respond(error.response, keepAlive: false, headOnly: false)
        case .success(let key):
            let subprotocol = ServerHandshake.selectSubprotocol(head, supported: ["v2", "v1"])
            var agreed: ConnectionCompression?
            var headers: [(name: String, value: String)] = []
            if let compression, case .accept(let parameters) = DeflateNegotiation.negotiate(
                offers: head.values("sec-websocket-extensions")) {
                agreed = ConnectionCompression(parameters: parameters, role: .server, workspace: compression)
                headers.append(("Sec-WebSocket-Extensions", parameters.responseHeader))
            }
            return .upgrade(ServerHandshake.response(key: key, subprotocol: subprotocol, extraHeaders: headers), subprotocol: subprotocol,
                            limits: RouteLimits(maxMessageBytes: echoLimit, messageRate: messageRate), compression: agreed) { _ in
                EchoSession { self.refusals.append($0) }
            }
        }
    }

    func connection(_ connection: WebSocketConnection, didReject status: HTTPStatus) { rejected.append(status.code) }
    func connectionDidUpgrade(_ connection: WebSocketConnection) {}
    func connection(_ connection: WebSocketConnection, didSendClose code: CloseCode) { closesSent.append(code.rawValue) }
    func connection(_ connection: WebSocketConnection, didReceiveClose code: CloseCode) { closesReceived.append(code.rawValue) }
    func connectionCloseTimedOut(_ connection: WebSocketConnection) { closeTimeouts += 1 }
    func connectionDidEnd(_ connection: WebSocketConnection, wasWebSocket: Bool) { ended.append(wasWebSocket) }

    func readerPool(forMessagesUpTo maxMessageBytes: Int) -> MessageReaderPool? {
        guard lendsReaders else { return nil }
        if let pool = readerPools[maxMessageBytes] { return pool }
        let pool = MessageReaderPool(maxMessageLength: maxMessageBytes)
        readerPools[maxMessageBytes] = pool
        return pool
    }
}

final class EchoSession: WebSocketSession {
    private let refused: (Bool) -> Void

    init(refused: @escaping (Bool) -> Void = { _ in }) { self.refused = refused }

    func connection(_ connection: WebSocketConnection, didReceive opcode: Opcode, payload: UnsafeRawBufferPointer) {
        connection.send(opcode: opcode, payload: payload)
    }

    func connectionRefusedMessageOverRate(_ connection: WebSocketConnection, first: Bool) { refused(first) }
}

/// Records a client connection's events.
final class RecordingClient: WebSocketSession {
    var opened: String?? = .none
    var messages: [String] = []
    var closed: (code: UInt16?, error: String?)?

    func connectionDidOpen(_ connection: WebSocketConnection, subprotocol: String?) { opened = .some(subprotocol) }
    func connection(_ connection: WebSocketConnection, didReceive opcode: Opcode, payload: UnsafeRawBufferPointer) {
        messages.append(String(decoding: payload, as: UTF8.self))
    }
    func connectionDidClose(_ connection: WebSocketConnection, closeCode: CloseCode?, error: String?) {
        closed = (closeCode?.rawValue, error)
    }
}

let fast = ConnectionLimits(maxMessageBytes: 1 << 16, handshakeTimeout: 200_000_000, closeTimeout: 200_000_000)

func serverConnection(loop: EventLoop, delegate: ServerConnectionDelegate, limits: ConnectionLimits = fast) throws -> (WebSocketConnection, RawPeer) {
    let (ours, theirs) = socketPair()
    let socket = try StreamSocket(fd: ours, loop: loop, maxBufferedInput: 1 << 16, outboundHighWater: 1 << 20)
    return (WebSocketConnection(accepted: socket, limits: limits, delegate: delegate), RawPeer(fd: theirs))
}

func clientConnection(loop: EventLoop, fd: Int32, session: WebSocketSession, protocols: [String] = [],
                      limits: ConnectionLimits = fast, compression: CompressionWorkspace? = nil) throws -> WebSocketConnection {
    let socket = try StreamSocket(fd: fd, loop: loop, maxBufferedInput: 1 << 16, outboundHighWater: 1 << 20)
    let handshake = ClientHandshake(nonce: Array(0..<16), offeredSubprotocols: protocols, offersCompression: compression != nil)
    return WebSocketConnection(connected: socket, handshake: handshake, host: "test", path: "/echo", limits: limits,
                               compression: compression, session: session)
}

/// A client connection whose server is the test, speaking by hand.
func clientAgainstRawServer(loop: EventLoop) throws -> (client: WebSocketConnection, server: RawPeer, events: RecordingClient) {
    let (ours, theirs) = socketPair()
    let recorder = RecordingClient()
    let client = try clientConnection(loop: loop, fd: ours, session: recorder)
    return (client, RawPeer(fd: theirs), recorder)
}

@Suite struct WebSocketConnectionTests {
    /// Both roles of the one connection type talking to each other on one loop: the client's
    /// frames must be masked (the server fails unmasked ones), each side answers the close
    /// handshake, and the server closes TCP first.
    @Test func clientAndServerRolesExchangeMessagesAndCloseCleanly() throws {
        let loop = try EventLoop()
        let server = RecordingServer()
        server.echoLimit = 1 << 20
        var limits = fast
        limits.maxMessageBytes = 1 << 20
        let (ours, theirs) = socketPair()
        let serverSocket = try StreamSocket(fd: ours, loop: loop, maxBufferedInput: 1 << 16, outboundHighWater: 1 << 20)
        let serverSide = WebSocketConnection(accepted: serverSocket, limits: limits, delegate: server)
        let recorder = RecordingClient()
        let client = try clientConnection(loop: loop, fd: theirs, session: recorder, protocols: ["v3", "v2"], limits: limits)

        #expect(run(loop, until: { recorder.opened != nil }))
        #expect(recorder.opened == .some("v2"))
        #expect(serverSide.subprotocol == "v2" && serverSide.phase == .open)
        // The second needs the 64-bit length field.
        for text in ["hello", String(repeating: "é", count: 40_000)] {
            Array(text.utf8).withUnsafeBytes { client.send(opcode: .text, payload: $0) }
        }
        #expect(run(loop, until: { recorder.messages.count == 2 }))
        #expect(recorder.messages.first == "hello" && recorder.messages.last?.count == 40_000)

        client.close(code: .normalClosure)
        #expect(run(loop, until: { recorder.closed != nil && !server.ended.isEmpty }))
        #expect(recorder.closed?.code == 1000 && recorder.closed?.error == nil)
        #expect(server.closesReceived == [1000] && server.closesSent == [1000])
        #expect(server.ended == [true])
        #expect(client.phase == .closed && serverSide.phase == .closed)
    }

    @Test func serverAnswersPingsAndEnforcesTheRoutesMessageLimit() throws {
        let loop = try EventLoop()
        let server = RecordingServer()
        server.echoLimit = 200
        let (_, peer) = try serverConnection(loop: loop, delegate: server)
        peer.requestUpgrade(path: "/echo")
        #expect(run(loop, until: { peer.readResponse()?.hasPrefix("HTTP/1.1 101") == true }))
        peer.send(.ping, Array("are you there".utf8))
        var events: [RawPeer.Event] = []
        #expect(run(loop, until: { events += peer.readEvents(); return !events.isEmpty }))
        #expect(events == [.pong(Array("are you there".utf8))])
        // 201 bytes over two fragments: the limit counts the whole message.
        peer.send(.text, Array(repeating: UInt8(ascii: "a"), count: 150), fin: false)
        peer.send(.continuation, Array(repeating: UInt8(ascii: "a"), count: 51))
        events = []
        #expect(run(loop, until: { events += peer.readEvents(); return !events.isEmpty }))
        #expect(events == [.close(1009)])
        #expect(server.closesSent == [1009])
    }

    @Test func aPeerThatNeverAnswersCloseIsDroppedAfterTheCloseTimeout() throws {
        let loop = try EventLoop()
        let server = RecordingServer()
        let (connection, peer) = try serverConnection(loop: loop, delegate: server)
        peer.requestUpgrade(path: "/echo")
        #expect(run(loop, until: { peer.readResponse() != nil }))
        connection.close(code: .goingAway, reason: "bye")
        #expect(run(loop, until: { !server.ended.isEmpty }, seconds: 2))
        #expect(server.closeTimeouts == 1)
        #expect(server.closesReceived == [1006])
        #expect(peer.readEvents() == [.close(1001)])
    }

    @Test func aSilentHTTPClientGets408AndACountedRejection() throws {
        let loop = try EventLoop()
        let server = RecordingServer()
        let (_, peer) = try serverConnection(loop: loop, delegate: server)
        peer.write("GET /echo HTTP/1.1\r\nHo")
        var response: String?
        #expect(run(loop, until: { response = peer.readResponse(); return response != nil }))
        #expect(response?.hasPrefix("HTTP/1.1 408") == true)
        #expect(server.rejected == [408])
        #expect(run(loop, until: { server.ended == [false] }))
    }

    @Test func keepAliveServesSeveralRequestsThenUpgrades() throws {
        let loop = try EventLoop()
        let server = RecordingServer()
        let (connection, peer) = try serverConnection(loop: loop, delegate: server)
        peer.write("GET /nothing HTTP/1.1\r\nHost: x\r\n\r\nGET /nothing HTTP/1.1\r\nHost: x\r\n\r\n")
        var responses: [String] = []
        #expect(run(loop, until: {
            while let response = peer.readResponse() { responses.append(response) }
            return responses.count == 2
        }))
        #expect(responses.allSatisfy { $0.hasPrefix("HTTP/1.1 404") })
        #expect(connection.phase == .awaitingRequest)
        // The upgrade and a frame pipelined right behind it.
        peer.requestUpgrade(path: "/echo")
        peer.sendText("early")
        var events: [RawPeer.Event] = []
        #expect(run(loop, until: { _ = peer.readResponse(); events += peer.readEvents(); return !events.isEmpty }))
        #expect(events == [.text("early")])
    }

    @Test func theClientRoleReportsARefusedHandshake() throws {
        let loop = try EventLoop()
        let (client, peer, recorder) = try clientAgainstRawServer(loop: loop)
        #expect(run(loop, until: { !readAll(peer.fd).isEmpty || client.phase != .awaitingResponse }))
        peer.write("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        #expect(run(loop, until: { recorder.closed != nil }))
        #expect(recorder.opened == nil)
        #expect(recorder.closed?.error?.contains("handshake refused: status(403)") == true)
    }

    @Test func theClientRoleGivesUpOnASilentServer() throws {
        let loop = try EventLoop()
        let (_, peer, recorder) = try clientAgainstRawServer(loop: loop)
        #expect(run(loop, until: { recorder.closed != nil }, seconds: 2))
        #expect(recorder.closed?.error?.contains("no handshake response") == true)
        _ = peer
    }

    /// A client fails a server that masks its frames (RFC 6455 §5.1) with 1002, masking its own Close.
    @Test func theClientRoleFailsAMaskedServerFrame() throws {
        let loop = try EventLoop()
        let (_, peer, recorder) = try clientAgainstRawServer(loop: loop)
        run(loop, for: 0.02)
        _ = readAll(peer.fd)
        let accept = ServerHandshake.acceptValue(forKey: Base64.encode(Array(0..<16)))
        peer.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \(accept)\r\n\r\n")
        peer.write(FrameEncoder.frame(opcode: .text, payload: Array("x".utf8), maskKey: 7))
        #expect(run(loop, until: { recorder.opened != nil }))
        var written: [UInt8] = []
        #expect(run(loop, until: { written += readAll(peer.fd); return written.count >= 6 }))
        // Masked (0x80 in the second byte), a Close (0x88), code 1002 once unmasked.
        #expect(written[0] == 0x88 && written[1] & 0x80 != 0)
        let key = Array(written[2..<6])
        #expect((written[6] ^ key[0], written[7] ^ key[1]) == (0x03, 0xEA))
    }
}

@Suite struct CompressedConnectionTests {
    /// Both roles negotiate permessage-deflate, every message goes out compressed (RSV1) and
    /// comes back whole; the server's limit applies to the inflated size.
    @Test func bothRolesCompressAndInflate() throws {
        let loop = try EventLoop()
        let server = RecordingServer()
        server.compression = CompressionWorkspace()
        let (ours, theirs) = socketPair()
        let serverSocket = try StreamSocket(fd: ours, loop: loop, maxBufferedInput: 1 << 17, outboundHighWater: 1 << 20)
        let serverSide = WebSocketConnection(accepted: serverSocket, limits: fast, delegate: server)
        let recorder = RecordingClient()
        let client = try clientConnection(loop: loop, fd: theirs, session: recorder, compression: CompressionWorkspace())
        #expect(run(loop, until: { recorder.opened != nil }))
        #expect(client.compression?.parameters.serverNoContextTakeover == true)
        #expect(serverSide.compression != nil)
        let long = String(repeating: "compressible ", count: 2000)  // 26 kB, well under the limit once inflated
        for text in ["a", long, "ünïcödé"] {
            Array(text.utf8).withUnsafeBytes { client.send(opcode: .text, payload: $0) }
        }
        #expect(run(loop, until: { recorder.messages.count == 3 }))
        #expect(recorder.messages == ["a", long, "ünïcödé"])
    }

    @Test func aDecompressionBombClosesWith1009() throws {
        let loop = try EventLoop()
        let server = RecordingServer()
        server.compression = CompressionWorkspace()
        let (connection, peer) = try serverConnection(loop: loop, delegate: server)
        peer.write(Array("GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n".utf8))
        #expect(run(loop, until: { connection.phase == .open }))
        #expect(peer.readResponse()?.contains("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover") == true)
        // 4 MiB of zeros, a few kB on the wire, against a 64 KiB limit.
        let deflater = MessageDeflater()
        let bomb = [UInt8](repeating: 0, count: 4 << 20).withUnsafeBytes { Array(deflater.compress($0)) }
        var frame = FrameEncoder.maskedFrame(opcode: .binary, payload: bomb, maskKey: 0x1234_5678)
        frame[0] |= 0x40
        peer.write(frame)
        #expect(run(loop, until: { server.closesSent == [1009] }))
        #expect(peer.readEvents().last == .close(1009))
    }
}
