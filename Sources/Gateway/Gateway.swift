import EventLoop
import Glibc
import HTTP
import Logging
import MarketData
import WebSocket

/// The running gateway: one event loop, its listener, the routes and the live connections.
///
/// Everything happens on the loop thread: accepting, parsing, routing, writing and shutdown.
public final class Gateway {
    public let configuration: GatewayConfiguration
    public let loop: EventLoop
    let logger: Logger
    let metrics = GatewayMetrics()
    let router = Router()
    let marketData: MarketDataService
    private var simulator: SimulatorDriver?
    private var listener: Listener?
    private var signals: SignalSource?
    private var connections: [ObjectIdentifier: ClientConnection] = [:]
    private var stopping = false

    /// The address the listener is bound to, once started (the real port when port 0 was asked).
    public private(set) var boundAddress: SocketAddress?

    public init(configuration: GatewayConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        self.loop = try EventLoop()
        marketData = MarketDataService(configuration: configuration, metrics: metrics)
        router.addWebSocket("/ws", endpoint: MarketDataEndpoint(gateway: self))
        if let token = configuration.publisherToken {
            router.addWebSocket("/feed", endpoint: FeedEndpoint(token: token, gateway: self))
        }
        if configuration.echo {
            router.addWebSocket("/echo", endpoint: EchoEndpoint())
        }
        if configuration.simulatorRate > 0 {
            let names = configuration.simulatorSymbols.isEmpty
                ? SimulatedMarket.defaultSymbols.map(\.0) : configuration.simulatorSymbols
            let instruments = names.enumerated().map { index, name in
                (id: marketData.symbolID(for: name)!, name: name, price: SimulatedMarket.startingPrice(for: name, index: index))
            }
            simulator = SimulatorDriver(market: SimulatedMarket(symbols: instruments), rate: configuration.simulatorRate,
                                        loop: loop, service: marketData)
        }
        router.addHTTP("/health/live", methods: ["GET", "HEAD"]) { _, _ in
            HTTPResponse(status: .ok, contentType: "application/json", body: "{\"live\":true}\n")
        }
    }

    /// Binds the listener and starts watching for SIGTERM and SIGINT.
    public func start() throws {
        guard let address = SocketAddress(host: configuration.host, port: configuration.port) else {
            throw SystemError("invalid listen address \(configuration.host):\(configuration.port)", errno: EINVAL)
        }
        let fd = try Socket.listen(on: address, reusePort: configuration.reusePort)
        listener = try Listener(fd: fd, loop: loop, onAccept: { [unowned self] in self.accept($0) },
                                onError: { [unowned self] error in
                                    self.metrics.acceptErrors += 1
                                    self.logger.warning("accept failed", metadata: ["error": "\(error)"])
                                })
        boundAddress = Socket.localAddress(fd)
        signals = try SignalSource(loop: loop) { [unowned self] signal in
            self.logger.info("signal received, shutting down", metadata: ["signal": "\(signal)"])
            self.shutdown()
        }
        simulator?.start(now: MonotonicClock.now())
        logger.info("listening", metadata: ["address": "\(boundAddress.map { "\($0)" } ?? "?")",
                                            "reuse_port": "\(configuration.reusePort)",
                                            "echo": "\(configuration.echo)",
                                            "feed": "\(configuration.publisherToken != nil)",
                                            "simulator_rate": "\(configuration.simulatorRate)"])
    }

    /// Starts (if needed) and runs the loop until the gateway has shut down.
    public func run() throws {
        if listener == nil { try start() }
        loop.run()
    }

    private func accept(_ fd: Int32) {
        guard !stopping else {
            Glibc.close(fd)
            return
        }
        do {
            let socket = try StreamSocket(fd: fd, loop: loop,
                                          maxBufferedInput: configuration.maxHeaderBytes + configuration.maxBodyBytes,
                                          outboundHighWater: max(configuration.maxQueueBytes, 2 * configuration.maxMessageBytes + 64))
            let connection = ClientConnection(socket: socket, gateway: self)
            connections[ObjectIdentifier(connection)] = connection
            metrics.connectionsAccepted += 1
            metrics.connectionsOpen += 1
        } catch {
            Glibc.close(fd)
            logger.warning("could not register connection", metadata: ["error": "\(error)"])
        }
    }

    func connectionUpgraded(_ connection: ClientConnection) {
        metrics.webSocketsOpen += 1
    }

    func connectionClosed(_ connection: ClientConnection, wasWebSocket: Bool, reason: StreamSocket.CloseReason) {
        connections[ObjectIdentifier(connection)] = nil
        metrics.connectionsOpen -= 1
        if wasWebSocket { metrics.webSocketsOpen -= 1 }
        if stopping && connections.isEmpty { loop.stop() }
    }

    /// Stops accepting, closes every WebSocket with 1001 and stops the loop when all are gone
    /// or after the close timeout.
    public func shutdown() {
        guard !stopping else { return }
        stopping = true
        simulator?.stop()
        listener?.close()
        listener = nil
        for connection in connections.values {
            if connection.phase == .webSocket {
                connection.close(code: .goingAway, reason: "server shutting down")
            } else {
                connection.socket.close()
            }
        }
        if connections.isEmpty {
            loop.stop()
            return
        }
        loop.schedule(after: GatewayConfiguration.nanoseconds(configuration.closeTimeout) * 2) { [weak self] in
            self?.loop.stop()
        }
    }
}
