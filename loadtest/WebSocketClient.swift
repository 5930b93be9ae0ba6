import ByteBuffers
import Connection
import EventLoop
import Glibc
import TLS
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

/// One dialed connection of a workload: the TCP connect, then a `WebSocketConnection` in the
/// client role (the same connection code as the gateway's), tagged with the workload's index.
final class WebSocketClient: WebSocketSession {
    let loop: EventLoop
    let target: WebSocketURL
    let index: Int
    /// Strong: the workload that receives the events lives as long as the process. (A weak
    /// reference gives every client a refcount side table and slows each message.)
    var delegate: WebSocketClientDelegate?
    /// Set once the TCP connect succeeded.
    private(set) var connection: WebSocketConnection?
    private var connector: Connector?
    private let subprotocols: [String]
    private let extraHeaders: [(name: String, value: String)]
    private let limits: ConnectionLimits
    private let tls: ClientTLS?
    /// Offers permessage-deflate and inflates and deflates in this workspace, when set.
    private let compression: CompressionWorkspace?
    private var ended = false

    /// `tls` is required for a wss:// target and ignored otherwise. With `compression` the
    /// client offers permessage-deflate.
    init(loop: EventLoop, target: WebSocketURL, index: Int, subprotocols: [String],
         extraHeaders: [(name: String, value: String)] = [], maxMessageBytes: Int = 1 << 20, tls: ClientTLS? = nil,
         compression: CompressionWorkspace? = nil) {
        self.compression = compression
        precondition(!target.secure || tls != nil, "a wss:// target needs TLS settings")
        self.loop = loop
        self.tls = target.secure ? tls : nil
        self.target = target
        self.index = index
        self.subprotocols = subprotocols
        self.extraHeaders = extraHeaders
        limits = ConnectionLimits(maxMessageBytes: maxMessageBytes, maxHeaderBytes: 16384)
    }

    /// Whether the handshake completed, whatever happened after.
    var didOpen: Bool { connection?.didOpen ?? false }

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
            finish(closeCode: nil, error: "\(error)")
        case .success(let fd):
            do {
                let socket = try StreamSocket(fd: fd, loop: loop,
                                              maxBufferedInput: ConnectionLimits.bufferedFrameBytes(maxMessageBytes: limits.maxMessageBytes),
                                              outboundHighWater: 1 << 22, security: tls?.makeChannel(for: target))
                var nonce = [UInt8](repeating: 0, count: 16)
                for i in 0..<16 { nonce[i] = UInt8.random(in: 0...255) }
                let handshake = ClientHandshake(nonce: nonce, offeredSubprotocols: subprotocols, offersCompression: compression != nil)
                connection = WebSocketConnection(connected: socket, handshake: handshake,
                                                 host: target.hostHeader, path: target.path, extraHeaders: extraHeaders,
                                                 limits: limits, compression: compression, session: self)
            } catch {
                _ = Glibc.close(fd)
                finish(closeCode: nil, error: "\(error)")
            }
        }
    }

    /// How the connection ended, for a person: the server's Close code and the reason it gave,
    /// or what went wrong (`1008 "slow consumer: queue over 1048576 bytes for 5 s"`).
    func closeDescription(code: CloseCode?, error: String?) -> String {
        var text = code.map { "\($0.rawValue)" } ?? "no Close"
        if let reason = connection?.peerCloseReason { text += " \"\(reason)\"" }
        if let error { text += " (\(error))" }
        return text
    }

    /// Queues a frame built once (already masked) and shared by many sends.
    func send(_ frame: SharedBytes) { connection?.send(frame) }

    /// Masks and queues one message.
    func send(opcode: Opcode, payload: UnsafeRawBufferPointer) { connection?.send(opcode: opcode, payload: payload) }

    /// Starts the close handshake.
    func close(code: CloseCode = .normalClosure) { connection?.close(code: code) }

    // MARK: WebSocketSession

    func connectionDidOpen(_ connection: WebSocketConnection, subprotocol: String?) {
        delegate?.clientDidOpen(self, subprotocol: subprotocol)
    }

    func connection(_ connection: WebSocketConnection, didReceive opcode: Opcode, payload: UnsafeRawBufferPointer) {
        delegate?.client(self, didReceive: opcode, payload: payload)
    }

    func connectionDidClose(_ connection: WebSocketConnection, closeCode: CloseCode?, error: String?) {
        finish(closeCode: closeCode, error: error)
    }

    private func finish(closeCode: CloseCode?, error: String?) {
        guard !ended else { return }
        ended = true
        delegate?.clientDidClose(self, closeCode: closeCode, error: error)
    }
}
