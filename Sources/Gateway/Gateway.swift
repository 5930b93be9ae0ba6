import EventLoop
import Glibc
import HTTP
import Logging
import MarketData
import WebSocket

/// The running gateway: one event loop, its listener, the routes and the live connections.
///
/// Everything happens on the loop thread: accepting, parsing, routing, fan-out, writing,
/// draining.
public final class Gateway {
    public let configuration: GatewayConfiguration
    public let loop: EventLoop
    let logger: Logger
    let metrics = GatewayMetrics()
    let router = Router()
    let marketData: MarketDataService
    private(set) var drain: DrainController!
    private(set) var simulator: SimulatorDriver?
    private var listener: Listener?
    private var signals: SignalSource?
    private var control: ControlSocket?
    private var connections: [ObjectIdentifier: ClientConnection] = [:]
    /// Set once the listener was handed to a new instance.
    private var listenerHandedOver = false

    /// The address the listener is bound to, once started (the real port when port 0 was asked).
    public private(set) var boundAddress: SocketAddress?

    public init(configuration: GatewayConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        self.loop = try EventLoop()
        marketData = MarketDataService(configuration: configuration, metrics: metrics)
        drain = DrainController(gateway: self)
        router.addWebSocket("/ws", endpoint: MarketDataEndpoint(gateway: self))
        if let token = configuration.publisherToken {
            router.addWebSocket("/feed", endpoint: FeedEndpoint(token: token, gateway: self))
        }
        if configuration.echo {
            router.addWebSocket("/echo", endpoint: EchoEndpoint())
        }
        HealthEndpoints.register(on: router, gateway: self)
        router.addHTTP("/metrics", methods: ["GET"]) { [unowned(unsafe) self] _, _ in
            HTTPResponse(status: .ok, contentType: "text/plain; version=0.0.4; charset=utf-8", body: MetricsEndpoint.render(self))
        }
        if let token = configuration.adminToken {
            AdminEndpoints.register(on: router, token: token, gateway: self)
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
    }

    /// Binds (or takes over) the listener and starts watching for SIGTERM and SIGINT.
    public func start() throws {
        signals = try SignalSource(loop: loop) { [unowned(unsafe) self] signal in
            let name = signal == SIGTERM ? "SIGTERM" : signal == SIGINT ? "SIGINT" : "signal \(signal)"
            self.logger.notice("\(name) received")
            self.drain.begin(trigger: name)
        }
        let fd: Int32
        if let path = configuration.takeover {
            let takeover = try TakeoverClient.receiveListener(from: path)
            fd = takeover.fd
            listener = try makeListener(fd)
            try takeover.confirm()
            logger.notice("took over the listener from the running instance", metadata: ["control_socket": "\(path)"])
        } else {
            guard let address = SocketAddress(host: configuration.host, port: configuration.port) else {
                throw SystemError("invalid listen address \(configuration.host):\(configuration.port)", errno: EINVAL)
            }
            fd = try Socket.listen(on: address, reusePort: configuration.reusePort)
            listener = try makeListener(fd)
        }
        boundAddress = Socket.localAddress(fd)
        if let path = configuration.controlSocket {
            control = try ControlSocket(path: path, loop: loop, gateway: self)
        }
        loop.startLagProbe()
        simulator?.start(now: MonotonicClock.now())
        if simulator != nil { logger.notice("feed up: simulator", metadata: ["rate": "\(configuration.simulatorRate)"]) }
        if configuration.requireFeed { watchFeed() }
        logger.notice("listening", metadata: ["address": "\(boundAddress.map { "\($0)" } ?? "?")", "pid": "\(getpid())"])
    }

    /// With --require-feed: logs when the ingest feed goes stale and when it comes back, once
    /// per transition (checked every second).
    private func watchFeed() {
        loop.schedule(after: 1_000_000_000) { [unowned(unsafe) self] in
            let fresh = self.marketData.lastFeedUpdate.map {
                Double(self.loop.now &- $0) / 1e9 <= self.configuration.feedStaleAfter
            } ?? false
            if fresh != self.feedWasFresh {
                self.feedWasFresh = fresh
                if fresh {
                    self.logger.notice("feed up: /feed updates arriving")
                } else {
                    self.logger.warning("feed down: no /feed update within --feed-stale-after",
                                        metadata: ["feed_stale_after": "\(self.configuration.feedStaleAfter)"])
                }
            }
            if self.drain.phase != .finished { self.watchFeed() }
        }
    }

    private var feedWasFresh = false

    private func makeListener(_ fd: Int32) throws -> Listener {
        try Listener(fd: fd, loop: loop, onAccept: { [unowned(unsafe) self] in self.accept($0) },
                     onError: { [unowned(unsafe) self] error in
                         self.metrics.acceptErrors += 1
                         self.logger.warning("accept failed", metadata: ["error": "\(error)"])
                     })
    }

    /// Starts (if needed) and runs the loop until a drain has finished.
    public func run() throws {
        if listener == nil { try start() }
        loop.run()
    }

    private func accept(_ fd: Int32) {
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

    var connectionCount: Int { connections.count }

    func allConnections() -> [ClientConnection] { Array(connections.values) }

    func connectionUpgraded(_ connection: ClientConnection) {
        metrics.webSocketsOpen += 1
    }

    func connectionClosed(_ connection: ClientConnection, wasWebSocket: Bool, reason: StreamSocket.CloseReason) {
        connections[ObjectIdentifier(connection)] = nil
        metrics.connectionsOpen -= 1
        if wasWebSocket { metrics.webSocketsOpen -= 1 }
        drain.connectionClosed()
    }

    /// Whether this instance accepts connections (not yet handed over or released).
    var isListening: Bool { listener != nil }

    /// The listening socket to hand to a new instance (takeover), if this one still has it.
    func handOverListener() -> Int32? { listener?.fd }

    func listenerWasTakenOver() {
        guard let listener else { return }
        listenerHandedOver = true
        listener.close()  // our copy only: the new instance holds its own descriptor
        self.listener = nil
        drain.begin(trigger: "takeover", skipGrace: true)
    }

    /// With --reuse-port: accept what is already queued on our listener, then close it, so new
    /// connections go to the other instance on the port. (Linux resets connections that reach
    /// a SO_REUSEPORT listener's queue between the last accept and the close; the sweep keeps
    /// that window to a few microseconds.)
    func releaseSharedListener() {
        guard let listener else { return }
        listener.acceptAllPending()
        listener.close()
        self.listener = nil
        logger.notice("drain: closed the shared SO_REUSEPORT listener; new connections go to the other instance")
    }

    /// The end of a drain: close what is left of ours and leave the loop.
    func stopAfterDrain() {
        simulator?.stop()
        listener?.close()
        listener = nil
        control?.close(unlink: !listenerHandedOver)
        control = nil
        loop.stop()
    }
}
