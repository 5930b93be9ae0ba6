import ByteBuffers
import EventLoop
import Glibc
import HTTP
import WebSocket

/// Receives a `WebSocketClient`'s events.
protocol WebSocketClientDelegate: AnyObject {
    func clientDidOpen(_ client: WebSocketClient, subprotocol: String?)
    /// A whole message; `payload` is valid only during the call.
    func client(_ client: WebSocketClient, didReceive opcode: Opcode, payload: UnsafeRawBufferPointer)
    /// The connection ended: `closeCode` is the server's Close code if one arrived, `error`
    /// says what went wrong if it did not end with a close handshake.
    func clientDidClose(_ client: WebSocketClient, closeCode: CloseCode?, error: String?)
}

/// A WebSocket client connection on the project's event loop: connect, handshake, read
/// messages with the same codec as the server (client role), write masked frames.
final class WebSocketClient: StreamSocketDelegate {
    enum Phase { case connecting, handshaking, open, closing, closed }

    let loop: EventLoop
    let target: WebSocketURL
    let handshake: ClientHandshake
    let index: Int
    /// Strong: the workload that receives the events lives as long as the process. (A weak
    /// reference gives every client a refcount side table and slows each message.)
    var delegate: WebSocketClientDelegate?
    private(set) var phase = Phase.connecting
    /// Whether the handshake completed, whatever happened after.
    private(set) var didOpen = false
    private(set) var socket: StreamSocket?
    private var connector: Connector?
    private let reader: MessageReader
    private var serverCloseCode: CloseCode?
    private let extraHeaders: [(name: String, value: String)]

    init(loop: EventLoop, target: WebSocketURL, index: Int, subprotocols: [String],
         extraHeaders: [(name: String, value: String)] = [], maxMessageBytes: Int = 1 << 20) {
        self.loop = loop
        self.target = target
        self.index = index
        self.extraHeaders = extraHeaders
        var nonce = [UInt8](repeating: 0, count: 16)
        for i in 0..<16 { nonce[i] = UInt8.random(in: 0...255) }
        handshake = ClientHandshake(nonce: nonce, offeredSubprotocols: subprotocols)
        reader = MessageReader(role: .client, maxMessageLength: maxMessageBytes)
    }

    /// Starts connecting, optionally from a given source address.
    func start(from source: SocketAddress? = nil) throws {
        // Strong capture, released when the connect completes (a weak one would give every
        // client a refcount side table and slow each message it handles).
        connector = try Connector(loop: loop, to: target.address, from: source) { result in
            self.connected(result)
        }
    }

    private func connected(_ result: Result<Int32, SystemError>) {
        connector = nil
        switch result {
        case .failure(let error):
            finish(error: "\(error)")
        case .success(let fd):
            do {
                let socket = try StreamSocket(fd: fd, loop: loop, maxBufferedInput: (1 << 20) + 14, outboundHighWater: 1 << 22)
                socket.delegate = self
                self.socket = socket
                phase = .handshaking
                handshake.request(host: target.hostHeader, path: target.path, extraHeaders: extraHeaders)
                    .withUnsafeBytes { socket.enqueueCopy($0) }
            } catch {
                _ = Glibc.close(fd)
                finish(error: "\(error)")
            }
        }
    }

    /// Queues a frame built once (already masked) and shared by many sends.
    func send(_ frame: SharedBytes) {
        guard phase == .open else { return }
        socket?.enqueue(frame)
    }

    /// Masks and queues one message.
    func send(opcode: Opcode, payload: UnsafeRawBufferPointer) {
        guard phase == .open || phase == .closing, let socket else { return }
        let key = UInt32.random(in: 0...UInt32.max)
        let header = FrameEncoder.headerLength(payloadLength: payload.count, masked: true)
        socket.enqueueCopy(count: header + payload.count) { destination in
            FrameEncoder.writeHeader(to: destination.baseAddress!, opcode: opcode, payloadLength: payload.count, maskKey: key)
            if !payload.isEmpty {
                (destination.baseAddress! + header).copyMemory(from: payload.baseAddress!, byteCount: payload.count)
                Masking.apply(key: key, to: UnsafeMutableRawBufferPointer(rebasing: destination[header...]), payloadOffset: 0)
            }
        }
    }

    /// Starts the close handshake.
    func close(code: CloseCode = .normalClosure) {
        guard phase == .open else { return }
        FrameEncoder.closePayload(code: code).withUnsafeBytes { send(opcode: .close, payload: $0) }
        phase = .closing
    }

    func streamSocket(_ socket: StreamSocket, didRead bytes: UnsafeMutableRawBufferPointer) -> Int {
        var offset = 0
        if phase == .handshaking {
            switch HTTPResponseParser.parse(UnsafeRawBufferPointer(bytes)) {
            case .needMore: return 0
            case .invalid:
                fail("invalid handshake response")
                return bytes.count
            case .complete(let head, let consumed):
                switch handshake.validate(head) {
                case .failure(let failure):
                    fail("handshake refused: \(failure)")
                    return bytes.count
                case .success(let subprotocol):
                    offset = consumed
                    phase = .open
                    didOpen = true
                    delegate?.clientDidOpen(self, subprotocol: subprotocol)
                }
            }
        }
        guard phase == .open || phase == .closing else { return bytes.count }
        let consumed = reader.readEvents(UnsafeMutableRawBufferPointer(rebasing: bytes[offset...])) { event in
            switch event {
            case .pending, .pong:
                return true
            case .message(let opcode, let payload):
                delegate?.client(self, didReceive: opcode, payload: payload)
                return phase == .open || phase == .closing
            case .ping(let payload):
                send(opcode: .pong, payload: payload)
                return true
            case .close(let code, _):
                serverCloseCode = code
                if phase == .open {
                    let reply = code.map { FrameEncoder.closePayload(code: $0) } ?? []
                    reply.withUnsafeBytes { send(opcode: .close, payload: $0) }
                }
                phase = .closing
                sawClose = true
                return false  // the server closes TCP next
            case .failure(let failure):
                fail("protocol error from server: \(failure)")
                return false
            }
        }
        return sawClose || phase == .closed ? bytes.count : offset + consumed
    }

    private var sawClose = false

    private func fail(_ reason: String) {
        finishReason = reason
        socket?.close()
    }

    private var finishReason: String?

    func streamSocketDidClose(_ socket: StreamSocket, reason: StreamSocket.CloseReason) {
        let error: String? = finishReason ?? (serverCloseCode == nil ? "connection ended without a close frame (\(reason))" : nil)
        finish(error: error)
    }

    private func finish(error: String?) {
        guard phase != .closed else { return }
        phase = .closed
        delegate?.clientDidClose(self, closeCode: serverCloseCode, error: error)
    }
}
