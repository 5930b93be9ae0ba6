import ByteBuffers
import EventLoop
import Glibc

/// What a link tells the client that owns it.
protocol NATSLinkOwner: AnyObject {
    /// The server's first INFO: what to send as CONNECT (with SUBs after it), or why not to.
    func linkWantsConnect(_ link: NATSLink, info: NATSServerInfo) -> Result<[UInt8], NATSLinkFailure>
    /// CONNECT and every SUB before the handshake's PING were accepted.
    func linkReady(_ link: NATSLink)
    /// An operation after the handshake (PING and PONG are the link's own).
    func link(_ link: NATSLink, received operation: NATSServerOperation)
    /// Bytes read, protocol included (for statistics).
    func link(_ link: NATSLink, read byteCount: Int)
    /// The link ended: before its handshake finished, or after.
    func linkEnded(_ link: NATSLink, reason: String, wasReady: Bool)
}

/// Why a link refused to go on; the text goes to the log as it is (it never holds a secret).
struct NATSLinkFailure: Error {
    let reason: String
}

/// One connection to one server: the name lookup, the TCP connect, TLS when the URL or the
/// server asks for it (NATS sends INFO in plaintext, then the client starts TLS on the same
/// socket), the CONNECT/PING handshake, keepalive pings, and the parsed operations. A client
/// owns one, and a second while it moves off a server in lame-duck mode.
final class NATSLink: StreamSocketDelegate {
    enum State { case connecting, ready, ended }

    let server: NATSServerURL
    private(set) var state = State.connecting
    private(set) var info = NATSServerInfo()
    /// CONNECT has been queued: SUB and PUB may follow it.
    private(set) var connectSent = false
    private(set) var socket: StreamSocket?
    /// The server sent what the parser could not read.
    private(set) var endedByProtocolError = false

    private unowned let owner: NATSLinkOwner
    private let loop: EventLoop
    private let settings: NATSClient.Settings
    private var parser = NATSParser()
    private var connector: Connector?
    private var lookup: HostResolver.Lookup?
    private var handshakeTimer: Timer?
    private var pingTimer: Timer?
    private var pingsOutstanding = 0
    /// One entry per PING sent after the handshake, in order (PONGs come in the same order):
    /// what to do when its PONG comes (nil for a keepalive).
    private var pongWaiters: [(() -> Void)?] = []
    private var secured = false

    init(owner: NATSLinkOwner, loop: EventLoop, resolver: HostResolver, server: NATSServerURL, settings: NATSClient.Settings) {
        self.owner = owner
        self.loop = loop
        self.server = server
        self.settings = settings
        handshakeTimer = loop.schedule(after: settings.connectTimeout) { [unowned self] in
            self.end("no handshake within \(self.settings.connectTimeout / 1_000_000) ms")
        }
        lookup = resolver.resolve(server.host, port: server.port, timeout: settings.connectTimeout) { [unowned self] result in
            self.lookup = nil
            switch result {
            case .failure(let error):
                self.end("\(error)")
            case .success(let address):
                do {
                    self.connector = try Connector(loop: self.loop, to: address) { [unowned self] result in
                        self.connector = nil
                        switch result {
                        case .failure(let error): self.end("\(error)")
                        case .success(let fd): self.adopt(fd, security: nil)
                        }
                    }
                } catch {
                    self.end("\(error)")
                }
            }
        }
    }

    /// Queues protocol bytes (after CONNECT, or CONNECT itself).
    func send(_ bytes: UnsafeRawBufferPointer) {
        socket?.enqueueCopy(bytes)
    }

    /// Sends a PING and calls `body` at its PONG: the server has handled everything sent
    /// before. If the link ends first, `body` is not called.
    func afterServerHandled(_ body: @escaping () -> Void) {
        guard state == .ready else { return }
        pongWaiters.append(body)
        Self.pingBytes.withUnsafeBytes { send($0) }
    }

    /// Ends the link: at once, or once what is queued is written.
    func close(flushingFirst: Bool) {
        guard state != .ended else { return }
        state = .ended
        cancelTimers()
        if let socket {
            socket.delegate = nil
            if flushingFirst { socket.shutdownAfterFlush(lingerTimeout: 1_000_000_000) } else { socket.close() }
        }
        socket = nil
        pongWaiters.removeAll()
    }

    private static let pingBytes: [UInt8] = Array("PING\r\n".utf8)

    private func adopt(_ fd: Int32, security: TransportSecurity?, input: [UInt8] = []) {
        do {
            let socket = try StreamSocket(fd: fd, loop: loop, maxBufferedInput: parser.maxPayload + 65536,
                                          outboundHighWater: settings.maxPendingBytes * 4, security: security)
            socket.restoreInput(input)
            socket.delegate = self
            self.socket = socket
        } catch {
            _ = Glibc.close(fd)
            end("\(error)")
        }
        // Now the server speaks: INFO (or, after the TLS upgrade, nothing until CONNECT).
    }

    private func receivedFirstInfo(_ info: NATSServerInfo) {
        self.info = info
        parser.maxPayload = info.maxPayload
        socket?.maxBufferedInput = info.maxPayload + 65536
        let wantsTLS = server.tls || info.tlsRequired
        if wantsTLS && !secured {
            guard let makeSecurity = settings.makeSecurity else {
                return end("the server requires TLS: give the bus a CA file (--bus-ca) or a tls:// URL")
            }
            guard info.tlsRequired || info.tlsAvailable else {
                return end("tls:// was asked for but the server does not offer TLS")
            }
            // The server waits for our hello now; the socket is taken over outside its read.
            // Weak: the owner may drop the link (a timeout) before this runs.
            loop.schedule(after: 0) { [weak self] in
                guard let self else { return }
                self.startTLS(makeSecurity(self.server.host))
            }
            return
        }
        sendConnect()
    }

    private func startTLS(_ security: TransportSecurity) {
        guard state == .connecting, let socket, let detached = socket.detach() else { return end("the socket closed before TLS") }
        self.socket = nil
        secured = true
        adopt(detached.fd, security: security, input: detached.input)
        if state == .connecting { sendConnect() }  // queued until the TLS handshake finishes
    }

    private func sendConnect() {
        switch owner.linkWantsConnect(self, info: info) {
        case .failure(let failure):
            end(failure.reason)
        case .success(var bytes):
            connectSent = true
            bytes.append(contentsOf: Self.pingBytes)
            bytes.withUnsafeBytes { send($0) }
        }
    }

    private func handshakeFinished() {
        handshakeTimer?.cancel()
        handshakeTimer = nil
        state = .ready
        pingsOutstanding = 0
        pingTimer = loop.scheduleRepeating(every: settings.pingInterval) { [unowned self] in self.keepalive() }
        owner.linkReady(self)
    }

    private func keepalive() {
        guard state == .ready else { return }
        if pingsOutstanding >= settings.maxPingsOutstanding {
            return end("stale connection: \(pingsOutstanding) pings unanswered")
        }
        pingsOutstanding += 1
        pongWaiters.append(nil)
        Self.pingBytes.withUnsafeBytes { send($0) }
    }

    private func cancelTimers() {
        handshakeTimer?.cancel()
        handshakeTimer = nil
        pingTimer?.cancel()
        pingTimer = nil
        lookup?.cancel()
        lookup = nil
        if let connector {
            loop.unregister(connector.fd)
            _ = Glibc.close(connector.fd)
            self.connector = nil
        }
    }

    /// The link failed or the server closed it: tell the owner once.
    func end(_ reason: String) {
        guard state != .ended else { return }
        let wasReady = state == .ready
        close(flushingFirst: false)
        owner.linkEnded(self, reason: reason, wasReady: wasReady)
    }

    // MARK: StreamSocketDelegate

    func streamSocket(_ socket: StreamSocket, didRead bytes: UnsafeMutableRawBufferPointer) -> Int {
        guard socket === self.socket else { return bytes.count }
        owner.link(self, read: bytes.count)
        let result = parser.parse(UnsafeRawBufferPointer(bytes)) { operation in
            guard socket === self.socket, state != .ended else { return }
            handle(operation)
        }
        switch result {
        case .success(let used):
            return used
        case .failure(let error):
            endedByProtocolError = true
            end("protocol error: \(error)")
            return bytes.count
        }
    }

    func streamSocketDidClose(_ socket: StreamSocket, reason: StreamSocket.CloseReason) {
        guard socket === self.socket else { return }
        end("connection \(reason)")
    }

    private func handle(_ operation: NATSServerOperation) {
        switch operation {
        case .ping:
            Self.pongBytes.withUnsafeBytes { send($0) }
        case .pong:
            if state == .connecting {
                handshakeFinished()
            } else {
                pingsOutstanding = 0
                if !pongWaiters.isEmpty, let waiting = pongWaiters.removeFirst() { waiting() }
            }
        case .info(let json):
            let info = NATSServerInfo(json: json)
            if connectSent {
                self.info = info
                owner.link(self, received: operation)
            } else {
                receivedFirstInfo(info)
            }
        case .error(let text):
            owner.link(self, received: operation)
            if state == .connecting { end(text) }
        case .message, .ok:
            owner.link(self, received: operation)
        }
    }

    private static let pongBytes: [UInt8] = Array("PONG\r\n".utf8)
}
