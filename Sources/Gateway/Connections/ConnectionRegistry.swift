import Connection
import EventLoop
import Glibc
import HTTP
import WebSocket

/// The gateway's live connections, and the server side of each: it routes their requests,
/// counts what happens to them, and knows when the last one is gone (a drain ends there).
final class ConnectionRegistry: ServerConnectionDelegate {
    private let context: GatewayContext
    private let router: Router
    private var connections: [ObjectIdentifier: WebSocketConnection] = [:]
    /// Called after each connection ends.
    var onConnectionEnded: (() -> Void)?

    init(context: GatewayContext, router: Router) {
        self.context = context
        self.router = router
    }

    var count: Int { connections.count }

    var all: [WebSocketConnection] { Array(connections.values) }

    /// Takes an accepted descriptor into a new server connection.
    func accept(_ fd: Int32) {
        let configuration = context.configuration
        do {
            let socket = try StreamSocket(fd: fd, loop: context.loop,
                                          maxBufferedInput: configuration.maxHeaderBytes + configuration.maxBodyBytes,
                                          outboundHighWater: max(configuration.maxQueueBytes, 2 * configuration.maxMessageBytes + 64),
                                          security: context.certificate?.makeChannel())
            let connection = WebSocketConnection(accepted: socket, limits: context.connectionLimits, delegate: self)
            connections[ObjectIdentifier(connection)] = connection
            context.metrics.connectionsAccepted += 1
            context.metrics.connectionsOpen += 1
        } catch {
            Glibc.close(fd)
            context.logger.warning("could not register connection", metadata: ["error": "\(error)"])
        }
    }

    // MARK: ServerConnectionDelegate

    func connection(_ connection: WebSocketConnection, route head: HTTPRequestHead, body: UnsafeRawBufferPointer) -> RequestOutcome {
        let upgradeAttempt = router.isUpgradeAttempt(head)
        switch router.route(head, body: body, draining: context.isDraining) {
        case .respond(let response):
            context.metrics.recordResponse(response.status, upgradeAttempt: upgradeAttempt)
            // While draining, idle keep-alive connections are not kept: the instance is leaving.
            let keepAlive = head.keepAlive && response.status.code < 400 && !context.isDraining
            return .respond(response, keepAlive: keepAlive, headOnly: head.method == "HEAD")
        case .upgrade(let endpoint, let subprotocol, let parameters, let response):
            context.metrics.recordResponse(.switchingProtocols, upgradeAttempt: true)
            let compression = parameters.map {
                ConnectionCompression(parameters: $0, role: .server, workspace: context.compression,
                                      minimumBytes: endpoint.minimumCompressedBytes)
            }
            return .upgrade(response, subprotocol: subprotocol, maxMessageBytes: endpoint.maxMessageBytes,
                            compression: compression) { connection in
                endpoint.openSession(for: connection, subprotocol: subprotocol)
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

    func connectionDidEnd(_ connection: WebSocketConnection, wasWebSocket: Bool) {
        connections[ObjectIdentifier(connection)] = nil
        context.metrics.connectionsOpen -= 1
        if wasWebSocket { context.metrics.webSocketsOpen -= 1 }
        if connection.compression != nil { context.metrics.compressedConnections -= 1 }
        onConnectionEnded?()
    }
}
