import ByteBuffers
import EventLoop
import HTTP
import WebSocket

/// One client connection, from its first request byte to its TCP close:
/// HTTP requests (health checks, metrics, the upgrade handshake) -> WebSocket messages ->
/// the close handshake -> a graceful TCP shutdown.
///
/// A client's bad input ends only its own connection, with the HTTP status or close code
/// that says why.
final class ClientConnection: StreamSocketDelegate {
    enum Phase: Equatable {
        /// Reading HTTP requests; the only phase where a request timer runs.
        case http
        /// Upgraded. `closeSent` tells whether our Close frame went out.
        case webSocket
        /// Closing: no more input is acted on.
        case closing
        case closed
    }

    let socket: StreamSocket
    /// The gateway outlives every connection.
    unowned(unsafe) let gateway: Gateway
    private(set) var phase = Phase.http
    /// The negotiated subprotocol, once upgraded.
    private(set) var subprotocol: String?
    private(set) var closeSent = false
    private var reader: MessageReader?
    private var session: WebSocketSession?
    private var requestTimer: Timer?
    private var closeTimer: Timer?
    private let requestParser: HTTPRequestParser

    init(socket: StreamSocket, gateway: Gateway) {
        self.socket = socket
        self.gateway = gateway
        let configuration = gateway.configuration
        requestParser = HTTPRequestParser(maxHeaderBytes: configuration.maxHeaderBytes,
                                          maxBodyBytes: configuration.maxBodyBytes)
        socket.delegate = self
        armRequestTimer()
    }

    // MARK: Input

    func streamSocket(_ socket: StreamSocket, didRead bytes: UnsafeMutableRawBufferPointer) -> Int {
        switch phase {
        case .http: return readHTTP(bytes)
        case .webSocket: return readWebSocket(bytes)
        case .closing, .closed: return bytes.count
        }
    }

    private func readHTTP(_ bytes: UnsafeMutableRawBufferPointer) -> Int {
        var offset = 0
        while phase == .http {
            let rest = UnsafeMutableRawBufferPointer(rebasing: bytes[offset...])
            switch requestParser.parse(UnsafeRawBufferPointer(rest)) {
            case .needMore:
                return offset
            case .failure(let status):
                gateway.metrics.recordResponse(status, upgradeAttempt: false)
                respond(HTTPResponse(status: status, contentType: "text/plain; charset=utf-8", body: status.reason + "\n"),
                        keepAlive: false)
                return bytes.count
            case .complete(let head, let consumed):
                let bodyLength = Int(head.header("content-length") ?? "0") ?? 0
                guard rest.count >= consumed + bodyLength else { return offset }
                let body = UnsafeRawBufferPointer(rebasing: rest[consumed..<(consumed + bodyLength)])
                offset += consumed + bodyLength
                handle(head, body: body)
            }
        }
        if phase == .webSocket {
            // Frames a client pipelined right behind its handshake.
            return offset + readWebSocket(UnsafeMutableRawBufferPointer(rebasing: bytes[offset...]))
        }
        return bytes.count
    }

    private func handle(_ head: HTTPRequestHead, body: UnsafeRawBufferPointer) {
        let upgradeAttempt = gateway.router.isUpgradeAttempt(head)
        switch gateway.router.route(head, body: body, draining: gateway.drain.isDraining) {
        case .respond(let response):
            gateway.metrics.recordResponse(response.status, upgradeAttempt: upgradeAttempt)
            // While draining, idle keep-alive connections are not kept: the instance is leaving.
            let keepAlive = head.keepAlive && response.status.code < 400 && !gateway.drain.isDraining
            respond(response, keepAlive: keepAlive, forHead: head.method == "HEAD")
        case .upgrade(let endpoint, let subprotocol, let response):
            gateway.metrics.recordResponse(.switchingProtocols, upgradeAttempt: true)
            let bytes = response.serialized(keepAlive: true)
            bytes.withUnsafeBytes { socket.enqueueCopy($0) }
            requestTimer?.cancel()
            requestTimer = nil
            self.subprotocol = subprotocol
            reader = MessageReader(role: .server, maxMessageLength: gateway.configuration.maxMessageBytes)
            socket.maxBufferedInput = gateway.configuration.maxMessageBytes + 14
            phase = .webSocket
            gateway.connectionUpgraded(self)
            session = endpoint.openSession(for: self, subprotocol: subprotocol)
        }
    }

    private func respond(_ response: HTTPResponse, keepAlive: Bool, forHead: Bool = false) {
        response.serialized(keepAlive: keepAlive, forHead: forHead).withUnsafeBytes { socket.enqueueCopy($0) }
        if keepAlive {
            armRequestTimer()
        } else {
            phase = .closing
            requestTimer?.cancel()
            socket.shutdownAfterFlush(lingerTimeout: GatewayConfiguration.nanoseconds(gateway.configuration.closeTimeout))
        }
    }

    private func readWebSocket(_ bytes: UnsafeMutableRawBufferPointer) -> Int {
        guard let reader else { return bytes.count }
        let consumed = reader.readEvents(bytes) { event in
            switch event {
            case .pending, .pong:
                break
            case .message(let opcode, let payload):
                // After our Close, data is read (to reach the peer's Close) but not acted on.
                if !closeSent { session?.connection(self, didReceive: opcode, payload: payload) }
            case .ping(let payload):
                if !closeSent { sendFrame(opcode: .pong, payload: payload) }
            case .close(let code, _):
                receivedClose(code)
            case .failure(let failure):
                fail(failure)
            }
            return phase == .webSocket
        }
        return phase == .webSocket ? consumed : bytes.count
    }

    // MARK: Output

    /// Frames `payload` for this connection alone (echo, pong); shared frames go through `send`.
    func sendFrame(opcode: Opcode, payload: UnsafeRawBufferPointer) {
        let header = FrameEncoder.headerLength(payloadLength: payload.count)
        socket.enqueueCopy(count: header + payload.count) { destination in
            FrameEncoder.writeHeader(to: destination.baseAddress!, opcode: opcode, payloadLength: payload.count)
            if !payload.isEmpty {
                (destination.baseAddress! + header).copyMemory(from: payload.baseAddress!, byteCount: payload.count)
            }
        }
    }

    /// Whether shared frames (updates) may still be queued: upgraded and no Close sent.
    var acceptsUpdates: Bool { phase == .webSocket && !closeSent }

    /// Queues a frame built once and shared with other connections.
    func send(_ frame: SharedBytes) {
        guard acceptsUpdates else { return }
        socket.enqueue(frame)
    }

    /// Tells the session a drain is about to close it (v2 sends its reconnect notice).
    func notifyDraining(retryAfterMilliseconds: Int) {
        guard phase == .webSocket, !closeSent else { return }
        session?.connectionWillDrain(self, retryAfterMilliseconds: retryAfterMilliseconds)
    }

    /// Closes a connection that is between HTTP requests.
    func closeIdleHTTP() {
        guard phase == .http else { return }
        phase = .closing
        requestTimer?.cancel()
        socket.shutdownAfterFlush(lingerTimeout: GatewayConfiguration.nanoseconds(gateway.configuration.closeTimeout))
    }

    /// Starts the close handshake from our side; the connection ends at the peer's Close reply
    /// or after the close timeout.
    func close(code: CloseCode, reason: String = "") {
        guard phase == .webSocket, !closeSent else { return }
        sendClose(code: code, reason: reason)
        closeTimer = gateway.loop.schedule(after: GatewayConfiguration.nanoseconds(gateway.configuration.closeTimeout)) {
            guard self.phase == .webSocket else { return }
            self.gateway.metrics.closeTimeouts += 1
            self.socket.close()
        }
    }

    private func sendClose(code: CloseCode?, reason: String) {
        closeSent = true
        if let code {
            gateway.metrics.recordCloseSent(code)
            FrameEncoder.closePayload(code: code, reason: reason).withUnsafeBytes { sendFrame(opcode: .close, payload: $0) }
        } else {
            sendFrame(opcode: .close, payload: UnsafeRawBufferPointer(start: nil, count: 0))
        }
    }

    private func receivedClose(_ code: CloseCode?) {
        gateway.metrics.recordCloseReceived(code ?? .noStatusReceived)
        if !closeSent { sendClose(code: code, reason: "") }
        finishClosing()
    }

    /// Fails the connection (RFC 6455 §7.1.7): our Close with the reason, then the TCP close.
    private func fail(_ failure: ProtocolFailure) {
        if !closeSent { sendClose(code: failure.code, reason: failure.reason.description) }
        gateway.logger.debug("failing connection", metadata: ["code": "\(failure.code)", "reason": "\(failure.reason)"])
        finishClosing()
    }

    /// The server closes TCP first once the close handshake is done (RFC 6455 §7.1.1).
    private func finishClosing() {
        phase = .closing
        closeTimer?.cancel()
        closeTimer = nil
        socket.shutdownAfterFlush(lingerTimeout: GatewayConfiguration.nanoseconds(gateway.configuration.closeTimeout))
    }

    // MARK: Timers and the end

    private func armRequestTimer() {
        requestTimer?.cancel()
        // Timers capture strongly and are cancelled at close: a weak reference would give every
        // connection a refcount side table and slow each retain of it on the hot path.
        requestTimer = gateway.loop.schedule(after: GatewayConfiguration.nanoseconds(gateway.configuration.handshakeTimeout)) {
            guard self.phase == .http else { return }
            self.gateway.metrics.recordResponse(.requestTimeout, upgradeAttempt: false)
            self.respond(HTTPResponse(status: .requestTimeout, contentType: "text/plain; charset=utf-8",
                                      body: "request head not received in time\n"), keepAlive: false)
        }
    }

    func streamSocketDidWrite(_ socket: StreamSocket) {
        session?.connectionDidWrite(self)
    }

    func streamSocketDidClose(_ socket: StreamSocket, reason: StreamSocket.CloseReason) {
        let wasWebSocket = reader != nil
        if phase == .webSocket { gateway.metrics.recordCloseReceived(.abnormalClosure) }
        phase = .closed
        requestTimer?.cancel()
        closeTimer?.cancel()
        requestTimer = nil
        closeTimer = nil
        session?.connectionDidClose(self)
        session = nil
        reader = nil
        gateway.connectionClosed(self, wasWebSocket: wasWebSocket, reason: reason)
    }
}
