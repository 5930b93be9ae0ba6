import Connection
import EventLoop
import Glibc
import HTTP
import WebSocket

/// The live connections of one listener, and the server side of each: it admits them within
/// the connection limits, routes their requests, counts what happens to them, checks that
/// their peers are still there, and knows when the last one is gone (a drain ends there).
final class ConnectionRegistry: ServerConnectionDelegate {
    private let context: GatewayContext
    private let router: Router
    private var admission: AdmissionControl
    // Three tables rather than one of entries: every connection is in the first, only
    // connections counted against a per-address limit are in the second, and only those kept
    // to be told why they are not served in the third. (With one dictionary of entries, each
    // of 18,000 connections paid ~90 bytes for fields that were nearly always nil.)
    /// Open connections by descriptor: descriptors are small and dense, so a table indexed by
    /// them costs ~9 bytes a connection where a dictionary cost ~29.
    private var byDescriptor: [WebSocketConnection?] = []
    /// Connections in `byDescriptor`.
    private(set) var count = 0
    /// Counted against this address in `admission`.
    private var sources: [ObjectIdentifier: PeerAddress] = [:]
    private var refusals: [ObjectIdentifier: AdmissionControl.Refusal] = [:]
    /// Readers lent to upgraded connections mid-message, one pool per message limit (a route's).
    private var readerPools: [Int: MessageReaderPool] = [:]
    /// Called after each connection ends.
    var onConnectionEnded: (() -> Void)?

    init(context: GatewayContext, router: Router, admission: AdmissionControl) {
        self.context = context
        self.router = router
        self.admission = admission
    }

    var all: [WebSocketConnection] { byDescriptor.compactMap { $0 } }

    /// Source addresses with connections counted against `--max-connections-per-address`.
    var trackedAddresses: Int { admission.trackedAddresses }

    /// Takes an accepted descriptor from `peer` into a new server connection, or turns it away.
    func accept(_ fd: Int32, from peer: SocketAddress) {
        let decision = admission.decide(open: count, peer: peer)
        var refusal: AdmissionControl.Refusal?
        switch decision.verdict {
        case .admit:
            break
        case .answer(let reason):
            refusal = reason
        case .drop(let reason):
            refuse(fd, because: reason)
            return
        }
        let configuration = context.configuration
        do {
            let socket = try StreamSocket(fd: fd, loop: context.loop,
                                          maxBufferedInput: configuration.maxHeaderBytes + configuration.maxBodyBytes,
                                          outboundHighWater: configuration.maxQueueBytes,
                                          security: context.certificate?.makeChannel())
            let connection = WebSocketConnection(accepted: socket, limits: context.connectionLimits, delegate: self)
            track(connection, source: decision.source, refusal: refusal)
            context.metrics.connectionsAccepted += 1
            context.metrics.connectionsOpen += 1
        } catch {
            Glibc.close(fd)
            admission.release(decision.source)
            context.logger.warning("could not register connection", metadata: ["error": "\(error)"])
        }
    }

    /// Takes a WebSocket handed over by another instance mid-stream: `build` makes the
    /// connection (and its session) on a socket for `fd`. False when it could not be taken;
    /// then the descriptor is closed, which ends the TCP connection unless the sender still
    /// holds it.
    func adopt(_ fd: Int32, build: (StreamSocket, ServerConnectionDelegate) -> WebSocketConnection?) -> Bool {
        let configuration = context.configuration
        guard let socket = try? StreamSocket(fd: fd, loop: context.loop, maxBufferedInput: configuration.maxHeaderBytes,
                                             outboundHighWater: configuration.maxQueueBytes) else {
            Glibc.close(fd)
            return false
        }
        guard let connection = build(socket, self) else {
            socket.close()
            return false
        }
        // The peer's address only matters with a per-address limit: no syscall otherwise.
        let source = admission.maxPerAddress == nil ? nil : admission.countAdopted(peer: Socket.peerAddress(fd))
        track(connection, source: source, refusal: nil)
        context.metrics.connectionsOpen += 1
        connectionDidUpgrade(connection)
        return true
    }

    private func track(_ connection: WebSocketConnection, source: PeerAddress?, refusal: AdmissionControl.Refusal?) {
        let key = ObjectIdentifier(connection)
        let slot = Int(connection.socket.fd)
        if slot >= byDescriptor.count {
            // Grown by an eighth rather than doubled, like the loop's handler table.
            if slot >= byDescriptor.capacity { byDescriptor.reserveCapacity(slot + 1 + slot / 8) }
            byDescriptor.append(contentsOf: repeatElement(nil, count: slot + 1 - byDescriptor.count))
        }
        // A descriptor is reused only after its connection ended and left the table (the end is
        // reported before the loop accepts again), so the slot is empty here.
        if byDescriptor[slot] == nil { count += 1 }
        byDescriptor[slot] = connection
        if let source { sources[key] = source }
        if let refusal { refusals[key] = refusal }
    }

    /// Forgets a connection that went to another instance: counted as gone, without a close.
    func release(_ connection: WebSocketConnection) {
        connectionDidEnd(connection, wasWebSocket: true)
    }

    /// Closes a connection turned away before anything was read from it.
    func refuse(_ fd: Int32, because reason: AdmissionControl.Refusal?) {
        Glibc.close(fd)
        context.metrics.refusedConnections[reason?.metricLabel ?? "descriptors", default: 0] += 1
    }

    /// Pings the open WebSockets that have been silent for the ping interval and closes those
    /// silent for the idle timeout.
    func checkLiveness(policy: LivenessPolicy) {
        let now = context.loop.now
        for case let connection? in byDescriptor {
            switch connection.checkLiveness(now: now, policy: policy) {
            case .alive: break
            case .pinged: context.metrics.pingsSent &+= 1
            case .closedIdle: context.metrics.idleCloses &+= 1
            }
        }
    }

    // MARK: ServerConnectionDelegate

    func connection(_ connection: WebSocketConnection, route head: HTTPRequestHead, body: UnsafeRawBufferPointer) -> RequestOutcome {
        let upgradeAttempt = router.isUpgradeAttempt(head)
        if let refusal = refusals[ObjectIdentifier(connection)] {
            let response = Self.response(refusing: refusal, maxPerAddress: admission.maxPerAddress)
            context.metrics.refusedConnections[refusal.metricLabel, default: 0] += 1
            context.metrics.recordResponse(response.status, upgradeAttempt: upgradeAttempt)
            return .respond(response, keepAlive: false, headOnly: head.method == "HEAD")
        }
        switch router.route(head, body: body, draining: context.isDraining) {
        case .respond(let response):
            context.metrics.recordResponse(response.status, upgradeAttempt: upgradeAttempt)
            // While draining, idle keep-alive connections are not kept: the instance is leaving.
            let keepAlive = head.keepAlive && response.status.code < 400 && !context.isDraining
            return .respond(response, keepAlive: keepAlive, headOnly: head.method == "HEAD")
        case .upgrade(let endpoint, let subprotocol, let parameters, let claims, let response):
            context.metrics.recordResponse(.switchingProtocols, upgradeAttempt: true)
            let compression = parameters.map {
                ConnectionCompression(parameters: $0, role: .server, workspace: context.compression,
                                      minimumBytes: endpoint.minimumCompressedBytes)
            }
            let limits = endpoint.limits
            return .upgrade(response, subprotocol: subprotocol, limits: limits, compression: compression) { [context] connection in
                // An echo of the largest message must fit before reading pauses for backpressure.
                connection.socket.outboundHighWater = max(context.configuration.maxQueueBytes, 2 * limits.maxMessageBytes + 64)
                return endpoint.openSession(for: connection, subprotocol: subprotocol, claims: claims)
            }
        }
    }

    func connection(_ connection: WebSocketConnection, didReject status: HTTPStatus) {
        context.metrics.recordResponse(status, upgradeAttempt: false)
    }

    func connectionDidUpgrade(_ connection: WebSocketConnection) {
        context.metrics.webSocketsOpen += 1
        if connection.compression != nil { context.metrics.compressedConnections += 1 }
    }

    func connection(_ connection: WebSocketConnection, didSendClose code: CloseCode) {
        context.metrics.recordCloseSent(code)
    }

    func connection(_ connection: WebSocketConnection, didReceiveClose code: CloseCode) {
        context.metrics.recordCloseReceived(code)
    }

    func connectionCloseTimedOut(_ connection: WebSocketConnection) {
        context.metrics.closeTimeouts += 1
    }

    private static func response(refusing refusal: AdmissionControl.Refusal, maxPerAddress: Int?) -> HTTPResponse {
        switch refusal {
        case .atCapacity:
            return HTTPResponse(status: .serviceUnavailable, contentType: "text/plain; charset=utf-8",
                                body: "at capacity: too many connections; try again or connect to another instance\n",
                                headers: [("Retry-After", "1")])
        case .tooManyFromAddress:
            return HTTPResponse(status: .tooManyRequests, contentType: "text/plain; charset=utf-8",
                                body: "too many connections from your address (at most \(maxPerAddress ?? 0))\n",
                                headers: [("Retry-After", "1")])
        }
    }

    func readerPool(forMessagesUpTo maxMessageBytes: Int) -> MessageReaderPool? {
        if let pool = readerPools[maxMessageBytes] { return pool }
        let pool = MessageReaderPool(maxMessageLength: maxMessageBytes)
        readerPools[maxMessageBytes] = pool
        return pool
    }

    func connectionDidEnd(_ connection: WebSocketConnection, wasWebSocket: Bool) {
        let key = ObjectIdentifier(connection)
        let slot = Int(connection.socket.fd)
        if slot < byDescriptor.count, byDescriptor[slot] === connection {
            byDescriptor[slot] = nil
            count -= 1
        }
        refusals.removeValue(forKey: key)
        admission.release(sources.removeValue(forKey: key))
        context.metrics.connectionsOpen -= 1
        if wasWebSocket { context.metrics.webSocketsOpen -= 1 }
        if connection.compression != nil { context.metrics.compressedConnections -= 1 }
        onConnectionEnded?()
    }
}
