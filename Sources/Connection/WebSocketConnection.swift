import ByteBuffers
import EventLoop
import HTTP
import WebSocket

/// One WebSocket connection on the event loop, in either role, from its first byte to its TCP
/// close: the opening handshake (a server reads HTTP requests until one upgrades; a client
/// sends its upgrade request and checks the 101), message assembly within the route's limits,
/// ping/pong, the close handshake and its timeouts, and output with backpressure.
///
/// The gateway's connections and the load test's clients are both this class, so the rules of
/// RFC 6455 live in one place. A peer's bad input ends only its own connection, with the HTTP
/// status or close code that says why.
///
/// Where the next layers plug in: a transport (TLS) sits under `socket`, encrypting at flush
/// time what the queue gathered, so frames stay shared plaintext until then; an extension
/// (permessage-deflate) is negotiated in the handshake and transforms messages between
/// `reader` and the session, and shared frames on the way out.
public final class WebSocketConnection: StreamSocketDelegate {
    public enum Role: Sendable, Equatable {
        /// Accepted: reads requests, frames go out unmasked.
        case server
        /// Dialed: sends the upgrade request, masks every frame it sends.
        case client
    }

    public enum Phase: Sendable, Equatable {
        /// Server: reading HTTP requests (health checks, metrics, the upgrade).
        case awaitingRequest
        /// Client: the upgrade request is sent; waiting for the 101.
        case awaitingResponse
        /// Upgraded. `closeSent` tells whether our Close frame went out.
        case open
        /// The close handshake finished or the connection failed: input is no longer acted on.
        case closing
        case closed
    }

    // Every field costs memory on each of tens of thousands of connections: the server keeps
    // only what it reads, the client's extra state sits behind one reference, and the fields
    // are declared in an order that leaves no padding between them (a class's fields are laid
    // out as declared).
    public let socket: StreamSocket
    public let role: Role
    public private(set) var phase: Phase
    /// Whether our Close frame is queued; after it no data is sent or acted on.
    public private(set) var closeSent = false
    /// Whether the connection ever upgraded, whatever happened after.
    public private(set) var didOpen = false
    private var closeReceived = false
    /// The peer's Close code, once its Close arrived (nil for an empty Close).
    public private(set) var peerCloseCode: CloseCode?
    /// Milliseconds: the listener's timeouts, at 4 bytes each rather than 8.
    private let closeTimeoutMilliseconds: UInt32
    /// The negotiated subprotocol, once open.
    public private(set) var subprotocol: String?
    /// Client role: the reason text of the server's Close, once it arrived and if it had one.
    /// (The server role keeps only the code: every field costs memory on each connection.)
    public var peerCloseReason: String? { client?.closeReason }
    /// permessage-deflate, when the handshake agreed it.
    public private(set) var compression: ConnectionCompression?
    /// Serves the connection once open. Strong: the connection and its session live and die
    /// together, and the reference is dropped when the connection closes.
    public var session: WebSocketSession?
    /// The server's delegate or the client's extra state: one or the other, in one field.
    private let side: Side
    private var requestParser: HTTPRequestParser?
    /// Reads frames once open; a server connection at rest holds its route's pool instead.
    private var readerState = ReaderState.none
    /// The route's message rate (server role), when it has one.
    var rateLimiter: MessageRateLimiter?
    private let handshakeTimeoutMilliseconds: UInt32
    /// Loop time of the last input once open, and of our last ping: the liveness check's clock.
    var lastInputAt: UInt64 = 0
    var lastPingAt: UInt64 = 0
    /// The one timer a phase needs: the request head (server), the 101 (client), the peer's
    /// Close reply, or the server's TCP close (client).
    private var timer: Timer?

    private enum Side {
        case server(ServerConnectionDelegate)
        case client(ClientState)
    }

    private var server: ServerConnectionDelegate? {
        if case .server(let delegate) = side { return delegate }
        return nil
    }

    private var client: ClientState? {
        if case .client(let state) = side { return state }
        return nil
    }

    /// A connection's frame reader. 8 bytes, like the optional reference it replaces: the
    /// payloads are references, and the tag sits in their spare bits. `active` comes first so
    /// its reference is stored untagged, as a plain pointer: leak checkers and heap profilers
    /// then see the reader as held (the pool is held by its owner anyway).
    enum ReaderState {
        case none
        /// Its own (client role, no pool), or borrowed and mid-message.
        case active(MessageReader)
        /// At rest between messages: a reader is borrowed from the pool when bytes arrive.
        case pooled(MessageReaderPool)
    }

    /// Whether frames are being read (open and not failed or closed).
    var hasReader: Bool {
        if case .none = readerState { return false }
        return true
    }

    /// Where a reader stopped, for a handover: a connection at rest has no progress to carry.
    func suspendReader(unconsumed: UnsafeMutableRawBufferPointer) -> MessageReader.Progress? {
        switch readerState {
        case .none: return nil
        case .pooled: return MessageReader.Progress()
        case .active(let reader): return reader.suspend(unconsumed: unconsumed)
        }
    }

    private var handshakeTimeout: UInt64 { UInt64(handshakeTimeoutMilliseconds) * 1_000_000 }
    private var closeTimeout: UInt64 { UInt64(closeTimeoutMilliseconds) * 1_000_000 }

    /// Nanoseconds as whole milliseconds, rounded up so a short timeout never becomes none,
    /// and capped at 49 days.
    private static func milliseconds(_ nanoseconds: UInt64) -> UInt32 {
        UInt32(clamping: nanoseconds / 1_000_000 + (nanoseconds % 1_000_000 == 0 ? 0 : 1))
    }

    /// What only a client connection needs.
    private final class ClientState {
        let handshake: ClientHandshake
        let maxHeaderBytes: Int
        /// Where compressed messages are inflated and ours deflated, if compression is offered.
        let workspace: CompressionWorkspace?
        /// Why the connection ended without a clean close handshake, for the client's report.
        var failureReason: String?
        /// The reason text of the server's Close frame.
        var closeReason: String?

        init(handshake: ClientHandshake, maxHeaderBytes: Int, workspace: CompressionWorkspace?) {
            self.handshake = handshake
            self.maxHeaderBytes = maxHeaderBytes
            self.workspace = workspace
        }
    }

    /// A server connection on an accepted socket, routed by `delegate`.
    public init(accepted socket: StreamSocket, limits: ConnectionLimits, delegate: ServerConnectionDelegate) {
        self.socket = socket
        self.role = .server
        handshakeTimeoutMilliseconds = Self.milliseconds(limits.handshakeTimeout)
        closeTimeoutMilliseconds = Self.milliseconds(limits.closeTimeout)
        side = .server(delegate)
        phase = .awaitingRequest
        requestParser = HTTPRequestParser(maxHeaderBytes: limits.maxHeaderBytes, maxBodyBytes: limits.maxBodyBytes)
        socket.maxBufferedInput = limits.maxHeaderBytes + limits.maxBodyBytes
        socket.delegate = self
        armRequestTimer()
    }

    /// A client connection on a connected socket: sends the upgrade request for `path` at
    /// once; `session` hears `connectionDidOpen` after a valid 101. A handshake that offers
    /// compression needs the `workspace` its messages are inflated and deflated in.
    public init(connected socket: StreamSocket, handshake: ClientHandshake, host: String, path: String,
                extraHeaders: [(name: String, value: String)] = [], limits: ConnectionLimits,
                compression workspace: CompressionWorkspace? = nil, session: WebSocketSession) {
        precondition(!handshake.offersCompression || workspace != nil, "offering compression needs a workspace")
        self.socket = socket
        self.role = .client
        handshakeTimeoutMilliseconds = Self.milliseconds(limits.handshakeTimeout)
        closeTimeoutMilliseconds = Self.milliseconds(limits.closeTimeout)
        side = .client(ClientState(handshake: handshake, maxHeaderBytes: limits.maxHeaderBytes, workspace: workspace))
        self.session = session
        phase = .awaitingResponse
        readerState = .active(MessageReader(role: .client, maxMessageLength: limits.maxMessageBytes))
        socket.maxBufferedInput = max(limits.maxHeaderBytes, ConnectionLimits.bufferedFrameBytes(maxMessageBytes: limits.maxMessageBytes))
        socket.delegate = self
        handshake.request(host: host, path: path, extraHeaders: extraHeaders).withUnsafeBytes { socket.enqueueCopy($0) }
        timer = socket.loop.schedule(after: handshakeTimeout) {
            guard self.phase == .awaitingResponse else { return }
            self.abort(because: "no handshake response within the handshake timeout")
        }
    }

    /// A server connection adopted mid-stream from another process (a live handover, see
    /// `ConnectionHandover`): open, with its partial message, rate bucket, liveness clocks,
    /// unread input and unwritten output restored. Nil when the state does not fit this route's
    /// limits; the caller then closes the socket.
    public init?(adopting state: ConnectionHandover, socket: StreamSocket, limits: ConnectionLimits, route: RouteLimits,
                 compression: ConnectionCompression?, delegate: ServerConnectionDelegate) {
        guard let reader = MessageReader(role: .server, maxMessageLength: route.maxMessageBytes,
                                         acceptsCompressed: compression != nil, resuming: state.reader),
              state.input.count <= ConnectionLimits.bufferedFrameBytes(maxMessageBytes: route.maxMessageBytes) else { return nil }
        self.socket = socket
        self.role = .server
        handshakeTimeoutMilliseconds = Self.milliseconds(limits.handshakeTimeout)
        closeTimeoutMilliseconds = Self.milliseconds(limits.closeTimeout)
        side = .server(delegate)
        phase = .open
        didOpen = true
        subprotocol = state.subprotocol
        self.compression = compression
        // Most connections move at rest: they wait for their next bytes without a reader.
        if reader.isAtRest, let pool = delegate.readerPool(forMessagesUpTo: route.maxMessageBytes) {
            readerState = .pooled(pool)
        } else {
            readerState = .active(reader)
        }
        let now = socket.loop.now
        lastInputAt = now &- state.silentFor
        lastPingAt = state.sincePing == .max ? 0 : now &- state.sincePing
        rateLimiter = route.messageRate.map { MessageRateLimiter($0, now: now, debt: state.rateDebt, refusedInARow: state.refusedInARow) }
        socket.maxBufferedInput = ConnectionLimits.bufferedFrameBytes(maxMessageBytes: route.maxMessageBytes)
        socket.delegate = self
        socket.restoreInput(state.input)
        state.output.withUnsafeBytes { socket.enqueueCopy($0) }
    }

    // MARK: Output

    /// Whether data may still be sent: open and no Close sent.
    @inlinable
    public var acceptsData: Bool { phase == .open && !closeSent }

    /// Queues a frame built once and shared with other connections (an update; a client's
    /// pre-masked message). Dropped once the connection no longer accepts data.
    @inlinable
    public func send(_ frame: SharedBytes) {
        guard acceptsData else { return }
        socket.enqueue(frame)
    }

    /// Frames `payload` for this connection alone (masked in the client role) and queues it,
    /// compressed when permessage-deflate was agreed and the message is large enough.
    public func send(opcode: Opcode, payload: UnsafeRawBufferPointer) {
        guard acceptsData else { return }
        if let deflater = compression?.deflater(for: payload.count) {
            writeFrame(opcode: opcode, payload: deflater.compress(payload), compressed: true)
        } else {
            writeFrame(opcode: opcode, payload: payload)
        }
    }

    private func writeFrame(opcode: Opcode, payload: UnsafeRawBufferPointer, compressed: Bool = false) {
        let maskKey: UInt32? = role == .client ? UInt32.random(in: 0...UInt32.max) : nil
        socket.enqueueCopy(count: FrameEncoder.frameLength(payloadLength: payload.count, masked: maskKey != nil)) { destination in
            FrameEncoder.writeFrame(into: destination, opcode: opcode, compressed: compressed, payload: payload, maskKey: maskKey)
        }
    }

    // MARK: Closing

    /// Starts the close handshake from our side. The connection ends at the peer's Close
    /// reply, or after the close timeout.
    public func close(code: CloseCode, reason: String = "") {
        guard phase == .open, !closeSent else { return }
        sendClose(code: code, reason: reason)
        timer = socket.loop.schedule(after: closeTimeout) {
            guard self.phase == .open else { return }
            self.server?.connectionCloseTimedOut(self)
            self.abort(because: "no Close reply within the close timeout")
        }
    }

    /// Closes a server connection that is between HTTP requests (a drain).
    public func closeIdleHTTP() {
        guard phase == .awaitingRequest else { return }
        phase = .closing
        timer?.cancel()
        socket.shutdownAfterFlush(lingerTimeout: closeTimeout)
    }

    /// Drops the connection at once, queued output included.
    public func abort() { socket.close() }

    private func abort(because reason: String) {
        if let client, client.failureReason == nil { client.failureReason = reason }
        socket.close()
    }

    private func sendClose(code: CloseCode?, reason: String) {
        closeSent = true
        guard let code else {
            writeFrame(opcode: .close, payload: UnsafeRawBufferPointer(start: nil, count: 0))
            return
        }
        server?.connection(self, didSendClose: code)
        FrameEncoder.closePayload(code: code, reason: reason).withUnsafeBytes { writeFrame(opcode: .close, payload: $0) }
    }

    private func receivedClose(_ code: CloseCode?) {
        closeReceived = true
        peerCloseCode = code
        server?.connection(self, didReceiveClose: code ?? .noStatusReceived)
        if !closeSent { sendClose(code: code, reason: "") }
        finishClosing()
    }

    /// Fails the connection (RFC 6455 §7.1.7): our Close with the reason, then the TCP close.
    private func fail(_ failure: ProtocolFailure) {
        if let client, client.failureReason == nil { client.failureReason = "protocol error from peer: \(failure)" }
        if !closeSent { sendClose(code: failure.code, reason: failure.reason.description) }
        finishClosing()
    }

    /// After the close handshake the server closes TCP first (RFC 6455 §7.1.1): it flushes, shuts
    /// down its side and waits for the peer's EOF, so a reset never destroys the Close frame.
    /// A client waits for the server to close, within the close timeout.
    private func finishClosing() {
        phase = .closing
        timer?.cancel()
        timer = nil
        switch role {
        case .server:
            socket.shutdownAfterFlush(lingerTimeout: closeTimeout)
        case .client:
            timer = socket.loop.schedule(after: closeTimeout) { self.socket.close() }
        }
    }

    // MARK: Input

    public func streamSocket(_ socket: StreamSocket, didRead bytes: UnsafeMutableRawBufferPointer) -> Int {
        switch phase {
        case .open:
            lastInputAt = socket.loop.now
            return readFrames(bytes)
        case .awaitingRequest: return readRequests(bytes)
        case .awaitingResponse: return readHandshakeResponse(bytes)
        case .closing, .closed: return bytes.count
        }
    }

    private func readFrames(_ bytes: UnsafeMutableRawBufferPointer) -> Int {
        let reader: MessageReader
        var lender: MessageReaderPool?
        switch readerState {
        case .none:
            return bytes.count
        case .active(let own):
            reader = own
        case .pooled(let pool):
            reader = pool.take(acceptsCompressed: compression != nil)
            readerState = .active(reader)
            lender = pool
        }
        let consumed = reader.readEvents(bytes) { event in
            switch event {
            case .pending, .pong:
                break
            case .message(let opcode, let payload):
                // After our Close, data is read (to reach the peer's Close) but not acted on.
                if !closeSent && admitted() { session?.connection(self, didReceive: opcode, payload: payload) }
            case .compressedMessage(let opcode, let payload):
                if !closeSent && admitted() { receiveCompressed(opcode, payload) }
            case .ping(let payload):
                if !closeSent && admitted() { writeFrame(opcode: .pong, payload: payload) }
            case .close(let code, let reason):
                if let client, !reason.isEmpty { client.closeReason = String(decoding: reason, as: UTF8.self) }
                receivedClose(code)
            case .failure(let failure):
                fail(failure)
            }
            return phase == .open
        }
        if reader.isAtRest, case .active(let current) = readerState, current === reader,
           let pool = lender ?? server?.readerPool(forMessagesUpTo: reader.maxMessageLength) {
            // Between messages: the reader goes back (the next read borrows again).
            pool.recycle(reader)
            readerState = .pooled(pool)
        }
        return phase == .open ? consumed : bytes.count
    }

    /// Whether a message or ping from the peer is within the route's rate. The session hears
    /// about the first one refused in a row (to tell the client); a client that goes on for a
    /// whole burst after that is closed with 1008.
    private func admitted() -> Bool {
        guard let verdict = rateLimiter?.admit(now: socket.loop.now) else { return true }
        switch verdict {
        case .accept:
            return true
        case .refuse(let first):
            session?.connectionRefusedMessageOverRate(self, first: first)
            return false
        case .persistentlyOver:
            session?.connectionRefusedMessageOverRate(self, first: false)
            close(code: .policyViolation, reason: "message rate limit exceeded")
            return false
        }
    }

    /// Inflates a compressed message within the route's limit (a bomb stops at the limit),
    /// checks text once whole, and hands it on.
    private func receiveCompressed(_ opcode: Opcode, _ payload: UnsafeRawBufferPointer) {
        guard let compression, case .active(let reader) = readerState else { return }
        switch compression.inflate(payload, limit: reader.maxMessageLength) {
        case .failure(.tooBig):
            fail(ProtocolFailure(.messageTooBig, "message inflates past the size limit"))
        case .failure(.corrupt):
            fail(ProtocolFailure(.invalidPayloadData, "invalid deflate data"))
        case .success(let message):
            if opcode == .text && !UTF8Validator.isValid(message) {
                return fail(ProtocolFailure(.invalidPayloadData, "text message is not valid UTF-8"))
            }
            session?.connection(self, didReceive: opcode, payload: message)
        }
    }

    // MARK: Liveness

    /// Server role: pings the peer if it has been silent for its ping delay (one to one and a
    /// quarter `policy.pingInterval`s, see `LivenessPolicy`) and no ping of ours went out in
    /// that time; starts the close handshake with 1001 "idle" if it has been silent for
    /// `policy.idleTimeout`. Any input counts, a pong or an unsolicited pong too. The server
    /// calls this for each open connection every `policy.checkInterval`.
    public func checkLiveness(now: UInt64, policy: LivenessPolicy) -> LivenessOutcome {
        // The shared ping frame is unmasked: a server's.
        guard role == .server, acceptsData else { return .alive }
        let silent = now &- lastInputAt
        if silent >= policy.idleTimeout {
            close(code: .goingAway, reason: "idle")
            return .closedIdle
        }
        let due = policy.pingDelay(spreadKey: socket.fd)
        guard silent >= due, now &- lastPingAt >= due else { return .alive }
        lastPingAt = now
        socket.enqueue(policy.pingFrame)
        return .pinged
    }

    // MARK: Server: HTTP until the upgrade

    private func readRequests(_ bytes: UnsafeMutableRawBufferPointer) -> Int {
        var offset = 0
        while phase == .awaitingRequest, let parser = requestParser {
            let rest = UnsafeMutableRawBufferPointer(rebasing: bytes[offset...])
            switch parser.parse(UnsafeRawBufferPointer(rest)) {
            case .needMore:
                return offset
            case .failure(let status):
                server?.connection(self, didReject: status)
                respond(HTTPResponse(status: status, contentType: "text/plain; charset=utf-8", body: status.reason + "\n"),
                        keepAlive: false, headOnly: false)
                return bytes.count
            case .complete(let head, let consumed):
                let bodyLength = Int(head.header("content-length") ?? "0") ?? 0
                guard rest.count >= consumed + bodyLength else { return offset }
                let body = UnsafeRawBufferPointer(rebasing: rest[consumed..<(consumed + bodyLength)])
                offset += consumed + bodyLength
                handle(head, body: body)
            }
        }
        if phase == .open {
            // Frames a client pipelined right behind its handshake.
            return offset + readFrames(UnsafeMutableRawBufferPointer(rebasing: bytes[offset...]))
        }
        return bytes.count
    }

    private func handle(_ head: HTTPRequestHead, body: UnsafeRawBufferPointer) {
        guard let server else { return }
        switch server.connection(self, route: head, body: body) {
        case .respond(let response, let keepAlive, let headOnly):
            respond(response, keepAlive: keepAlive, headOnly: headOnly)
        case .upgrade(let response, let subprotocol, let limits, let compression, let openSession):
            response.serialized(keepAlive: true).withUnsafeBytes { socket.enqueueCopy($0) }
            timer?.cancel()
            timer = nil
            requestParser = nil
            self.subprotocol = subprotocol
            if let pool = server.readerPool(forMessagesUpTo: limits.maxMessageBytes) {
                readerState = .pooled(pool)
            } else {
                let reader = MessageReader(role: .server, maxMessageLength: limits.maxMessageBytes)
                reader.acceptsCompressed = compression != nil
                readerState = .active(reader)
            }
            self.compression = compression
            let now = socket.loop.now
            rateLimiter = limits.messageRate.map { MessageRateLimiter($0, now: now) }
            lastInputAt = now
            socket.maxBufferedInput = ConnectionLimits.bufferedFrameBytes(maxMessageBytes: limits.maxMessageBytes)
            phase = .open
            didOpen = true
            server.connectionDidUpgrade(self)
            session = openSession(self)
        }
    }

    private func respond(_ response: HTTPResponse, keepAlive: Bool, headOnly: Bool) {
        response.serialized(keepAlive: keepAlive, forHead: headOnly).withUnsafeBytes { socket.enqueueCopy($0) }
        if keepAlive {
            armRequestTimer()
        } else {
            phase = .closing
            timer?.cancel()
            socket.shutdownAfterFlush(lingerTimeout: closeTimeout)
        }
    }

    private func armRequestTimer() {
        timer?.cancel()
        // Timers capture strongly and are cancelled at close: a weak reference would give every
        // connection a refcount side table and slow each retain of it on the hot path.
        timer = socket.loop.schedule(after: handshakeTimeout) {
            guard self.phase == .awaitingRequest else { return }
            // A TLS handshake that has not finished cannot carry a 408: just close.
            if self.socket.isAwaitingSecureHandshake { return self.abort() }
            self.server?.connection(self, didReject: .requestTimeout)
            self.respond(HTTPResponse(status: .requestTimeout, contentType: "text/plain; charset=utf-8",
                                      body: "request head not received in time\n"), keepAlive: false, headOnly: false)
        }
    }

    // MARK: Client: the 101

    private func readHandshakeResponse(_ bytes: UnsafeMutableRawBufferPointer) -> Int {
        guard let client else { return bytes.count }
        switch HTTPResponseParser.parse(UnsafeRawBufferPointer(bytes)) {
        case .needMore:
            if bytes.count > client.maxHeaderBytes { abort(because: "handshake response head over \(client.maxHeaderBytes) bytes") }
            return 0
        case .invalid:
            abort(because: "invalid handshake response")
            return bytes.count
        case .complete(let head, let consumed):
            switch client.handshake.validate(head) {
            case .failure(let failure):
                abort(because: "handshake refused: \(failure)")
                return bytes.count
            case .success(let agreement):
                timer?.cancel()
                timer = nil
                let subprotocol = agreement.subprotocol
                self.subprotocol = subprotocol
                if let parameters = agreement.compression, let workspace = client.workspace {
                    compression = ConnectionCompression(parameters: parameters, role: .client, workspace: workspace)
                    if case .active(let reader) = readerState { reader.acceptsCompressed = true }
                }
                phase = .open
                didOpen = true
                session?.connectionDidOpen(self, subprotocol: subprotocol)
                guard phase == .open else { return bytes.count }
                // Frames the server sent right behind its 101.
                return consumed + readFrames(UnsafeMutableRawBufferPointer(rebasing: bytes[consumed...]))
            }
        }
    }

    /// The connection went to another process: closed here, silently (see `handOver`).
    func endForHandover() {
        phase = .closed
        timer?.cancel()
        timer = nil
        readerState = .none
        session = nil
    }

    // MARK: Socket events

    public func streamSocketDidWrite(_ socket: StreamSocket) {
        session?.connectionDidWrite(self)
    }

    public func streamSocketDidClose(_ socket: StreamSocket, reason: StreamSocket.CloseReason) {
        if phase == .open { server?.connection(self, didReceiveClose: .abnormalClosure) }
        let error = client?.failureReason ?? (closeReceived ? nil : "connection ended without a close frame (\(reason))")
        phase = .closed
        timer?.cancel()
        timer = nil
        readerState = .none
        let session = self.session
        self.session = nil
        session?.connectionDidClose(self, closeCode: peerCloseCode, error: error)
        server?.connectionDidEnd(self, wasWebSocket: didOpen)
    }
}
