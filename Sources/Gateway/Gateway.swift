import Auth
import Bus
import Connection
import EventLoop
import Glibc
import HTTP
import Logging
import MarketData
import TLS
import WebSocket

/// The running gateway: one event loop, its listener, the routes and the live connections.
///
/// Everything happens on the loop thread: accepting, parsing, routing, fan-out, writing,
/// draining.
public final class Gateway {
    public let configuration: GatewayConfiguration
    public let loop: EventLoop
    let context: GatewayContext
    let router = Router()
    let marketData: MarketDataService
    /// `/ws`, which also continues connections handed over by a predecessor.
    let marketEndpoint: MarketDataEndpoint
    let connections: ConnectionRegistry
    /// With `--admin-port`: health, metrics and admin, on their own listener and connections.
    let adminRouter: Router?
    let adminConnections: ConnectionRegistry?
    /// Connections served at once (`--max-connections`, or what the descriptor limit allows).
    public let maxConnections: Int
    /// Token algorithms `/ws` accepts; empty when it is open.
    public let tokenAlgorithms: [String]
    private(set) var drain: DrainController!
    private(set) var simulator: SimulatorDriver?
    /// With `--bus`: the NATS end that feeds this instance and takes its publishers' updates.
    let bus: MarketBus?
    /// With `--bus`: the fleet's feature flags, in the bus's key-value bucket.
    let flagBucket: FlagBucket?
    var listener: Listener?
    var adminListener: Listener?
    private var livenessCheck: Timer?
    private var signals: SignalSource?
    var control: ControlSocket?
    /// With --control-socket: this instance's own recent figures, a watched deploy's baseline.
    var recorder: FiguresRecorder?
    /// After handing over to a watched successor: the watch, and the listener copy kept to
    /// take everything back.
    var standby: StandbyWatch?
    var standbyListenerFD: Int32 = -1
    /// Started with --watch: the standby predecessor's questions, answered.
    var candidate: CandidateWatch?
    /// What the process exits with: 0, or 3 after this version was rolled back.
    public internal(set) var exitStatus: Int32 = 0
    /// Set once the listener was handed to a new instance.
    var listenerHandedOver = false

    /// The address the listener is bound to, once started (the real port when port 0 was asked).
    public private(set) var boundAddress: SocketAddress?
    /// The admin listener's address, once started, with `--admin-port`.
    public private(set) var adminAddress: SocketAddress?

    /// Connections on the admin listener (monitoring and operators, not clients): beyond them,
    /// refused.
    static let maxAdminConnections = 64

    var logger: Logger { context.logger }

    /// Throws `SettingError` for a configuration that breaks its rules or names a certificate,
    /// key or token key that cannot serve: nothing starts.
    public init(configuration: GatewayConfiguration, logger: Logger) throws {
        try configuration.validate()
        self.configuration = configuration
        self.loop = try EventLoop()
        loop.flushDelay = UInt64(configuration.flushInterval) * 1000
        var certificate: ListenerCertificate?
        if let cert = configuration.tlsCertificatePath, let key = configuration.tlsKeyPath {
            do {
                certificate = try ListenerCertificate(certificatePath: cert, keyPath: key, keyPasswordPath: configuration.tlsKeyPasswordPath)
            } catch {
                throw SettingError(setting: nil, error.description)
            }
        }
        let context = GatewayContext(loop: loop, configuration: configuration, logger: logger, certificate: certificate)
        self.context = context
        let service = MarketDataService(maxSubscriptions: configuration.maxSubscriptions, maxSymbols: configuration.maxSymbols)
        marketData = service
        var verifier: TokenVerifier?
        if configuration.jwtSecret != nil || configuration.jwtPublicKeyPath != nil {
            do {
                verifier = try TokenVerifier(secret: configuration.jwtSecret.map { Array($0.utf8) },
                                             publicKeyPath: configuration.jwtPublicKeyPath)
            } catch {
                throw SettingError(setting: configuration.jwtPublicKeyPath == nil ? "jwt-secret" : "jwt-public-key", error.description)
            }
        }
        tokenAlgorithms = verifier?.algorithms ?? []
        marketEndpoint = MarketDataEndpoint(context: context, service: service, verifier: verifier)
        let descriptorLimit = ProcessStatistics.raiseDescriptorLimit()
        maxConnections = configuration.maxConnections
            ?? max(1, descriptorLimit - GatewayConfiguration.reservedDescriptors)
        context.maxConnections = maxConnections
        connections = ConnectionRegistry(context: context, router: router,
                                         admission: AdmissionControl(maxConnections: maxConnections,
                                                                     maxPerAddress: configuration.maxConnectionsPerAddress))
        if configuration.adminPort != nil {
            let adminRouter = Router()
            self.adminRouter = adminRouter
            adminConnections = ConnectionRegistry(context: context, router: adminRouter,
                                                  admission: AdmissionControl(maxConnections: Self.maxAdminConnections,
                                                                              maxPerAddress: nil, answerSlots: 0))
        } else {
            adminRouter = nil
            adminConnections = nil
        }
        let bus = try configuration.bus.map { [loop] settings in
            var named = try BusSecurity.prepared(settings)
            named.clientName = "tickstream \(ProcessStatistics.hostName()) pid \(getpid())"
            return MarketBus(loop: loop, service: service, settings: named)
        }
        self.bus = bus
        flagBucket = bus.map {
            FlagBucket(client: $0.client, bucket: configuration.flagsBucket, book: context.flags,
                       replicas: $0.settings.streamReplicas, timeout: $0.settings.requestTimeout)
        }
        if let path = configuration.flagsFile {
            // A bad file at start stops the start; later, a bad file keeps the flags held.
            if case .failure(let error) = FlagsFile.read(path) { throw SettingError(setting: "flags-file", "--flags-file: \(error)") }
            FlagsFile.load(path, into: context.flags, trigger: "start")
        }
        drain = DrainController(context: context, connections: connections,
                                releaseSharedListener: { [unowned self] in self.releaseSharedListener() },
                                started: { [unowned self] in self.stopWritingToBus() },
                                finished: { [unowned self] in self.stopAfterDrain() })
        connections.onConnectionEnded = { [unowned self] in self.drain.connectionClosed() }
        context.flags.onKill = { [unowned self] flag in self.featureKilled(flag) }

        router.acceptsCompression = configuration.deflate
        router.allowedOrigins = try configuration.allowedOrigins.map { try OriginPolicy($0) }
        if configuration.deflate {
            service.fanOut.deflater = TieredCompressor()
            service.fanOut.deflateMinBytes = configuration.deflateMinBytes
        }
        registerRoutes(service: service, bus: bus)
        if configuration.effectiveSimulatorRate > 0 {
            let names = configuration.simulatorSymbols.isEmpty
                ? SimulatedMarket.defaultSymbols.map(\.0) : configuration.simulatorSymbols
            let step: (inout SimulatedMarket, Int64) -> Void
            if configuration.simulatorTarget == .bus, let writer = bus?.writer {
                // The simulator's own book; the bus numbers each step and brings it back.
                var books = BookStore()
                step = { market, timestamp in
                    let (symbol, _, state) = market.step(store: &books, timestamp: timestamp)
                    writer.publish(symbol: symbol, state: state)
                }
            } else {
                step = { market, timestamp in service.stepSimulator(&market, timestamp: timestamp) }
            }
            simulator = SimulatorDriver(market: service.simulatedMarket(symbols: names), rate: configuration.effectiveSimulatorRate,
                                        loop: loop, step: step)
        }
    }

    /// Binds (or takes over) the listener and starts watching for SIGTERM and SIGINT (drain)
    /// and SIGHUP (reload the TLS certificate).
    public func start() throws {
        signals = try SignalSource(loop: loop) { [unowned self] signal in
            if signal == SIGHUP {
                let flags = self.reloadFlags(trigger: "SIGHUP")
                if self.reloadCertificate(trigger: "SIGHUP") == nil && flags == nil {
                    self.logger.notice("SIGHUP received: nothing to reload (no TLS certificate, no --flags-file)")
                }
                return
            }
            let name = signal == SIGTERM ? "SIGTERM" : signal == SIGINT ? "SIGINT" : "signal \(signal)"
            if self.standby != nil {
                // Stopping a standby ends the watch: the new version carries on unwatched.
                self.logger.notice("\(name) received: the standby leaves; the new version carries on unwatched")
                self.abandonStandby()
                return
            }
            if signal == SIGINT && self.context.isDraining {
                // A second Ctrl-C: whoever pressed it will not wait for the drain.
                self.drain.cutRemaining(because: "second SIGINT")
                return
            }
            self.logger.notice("\(name) received")
            // Ctrl-C on an idle gateway has nothing to wait for; SIGTERM (a deploy) always
            // keeps the grace, which gives load balancers time to stop routing here.
            let idle = self.connections.count == 0
            self.drain.begin(trigger: name, skipGrace: signal == SIGINT && idle)
        }
        let fd: Int32
        if let path = configuration.takeover {
            let takeover = try TakeoverClient.receiveListener(from: path)
            fd = takeover.fd
            listener = try makeListener(fd, for: connections)
            try takeover.confirm()
            logger.notice("took over the listener from the running instance", metadata: ["control_socket": "\(path)"])
            var handedOver = false
            if configuration.handover == .connections { handedOver = receiveConnections(over: takeover.channel).completed }
            // A watch goes on over the same connection; without one (or a handover) it ends here.
            if !(handedOver && configuration.watch > 0 && beginCandidateWatch(over: takeover.channel)) { takeover.finish() }
        } else {
            guard let address = SocketAddress(host: configuration.host, port: configuration.port) else {
                throw SystemError("invalid listen address \(configuration.host):\(configuration.port)", errno: EINVAL)
            }
            fd = try Socket.listen(on: address, reusePort: configuration.reusePort)
            listener = try makeListener(fd, for: connections)
        }
        boundAddress = Socket.localAddress(fd)
        setKeepalive(fd)
        try openAdminListener()
        startLivenessChecks()
        if configuration.controlSocket != nil {
            try openControlSocket()
            let recorder = FiguresRecorder(loop: loop) { [unowned self] in self.currentFigures() }
            recorder.start()
            self.recorder = recorder
        }
        loop.startLagProbe()
        if let bus { startBus(bus) }
        simulator?.start(now: MonotonicClock.now())
        if simulator != nil {
            logger.notice("feed up: simulator", metadata: ["rate": "\(configuration.effectiveSimulatorRate)",
                                                          "target": "\(configuration.simulatorTarget.rawValue)"])
        }
        let served = marketData.servedSymbols
        let source = bus == nil ? "/feed publishers" : "the bus"
        logger.notice(served.isEmpty ? "serving no symbols yet: they come from \(source)" : "serving symbols (GET /symbols lists them)",
                      metadata: ["count": "\(served.count)",
                                 "first": "\(served.prefix(5).joined(separator: ","))\(served.count > 5 ? ",..." : "")"])
        if configuration.requireFeed { watchFeed() }
        var listening: Logger.Metadata = ["address": "\(boundAddress.map { "\($0)" } ?? "?")", "pid": "\(getpid())",
                                          "scheme": "\(context.certificate == nil ? "ws/http" : "wss/https")",
                                          "max_connections": "\(maxConnections)"]
        if let adminAddress { listening["admin_address"] = "\(adminAddress)" }
        if configuration.web, let boundAddress { listening["page"] = "\(Self.pageURL(boundAddress, tls: context.certificate != nil))" }
        listening["ws_auth"] = "\(tokenAlgorithms.isEmpty ? "open" : "jwt " + tokenAlgorithms.joined(separator: ","))"
        if let certificate = context.certificate?.current {
            listening["certificate"] = "\(certificate.subject)"
            listening["not_after"] = "\(TLSServerContext.formatDate(certificate.notAfter))"
        }
        logger.notice("listening", metadata: listening)
    }

    /// Where a browser on this machine finds the live page: a wildcard address is reached as
    /// localhost.
    static func pageURL(_ address: SocketAddress, tls: Bool) -> String {
        let host = address.host == "0.0.0.0" || address.host == "::" ? "localhost" : address.family == AF_INET6 ? "[\(address.host)]" : address.host
        return "\(tls ? "https" : "http")://\(host):\(address.port)/"
    }

    /// Reads the certificate and key files again; nil when the listener does not use TLS.
    /// A failure leaves the certificate in use as it was, and says so.
    @discardableResult
    func reloadCertificate(trigger: String) -> Result<TLSServerContext, TLSConfigurationError>? {
        guard let certificate = context.certificate else { return nil }
        let result = certificate.reload()
        switch result {
        case .success(let loaded):
            logger.notice("TLS certificate reloaded; new handshakes use it", metadata: [
                "trigger": "\(trigger)", "subject": "\(loaded.subject)", "not_after": "\(TLSServerContext.formatDate(loaded.notAfter))",
            ])
        case .failure(let error):
            logger.error("TLS certificate reload refused; the certificate in use stays", metadata: [
                "trigger": "\(trigger)", "error": "\(error)", "kept_subject": "\(certificate.current.subject)",
                "kept_not_after": "\(TLSServerContext.formatDate(certificate.current.notAfter))",
            ])
        }
        return result
    }

    /// With --require-feed: logs when the ingest feed goes stale and when it comes back, once
    /// per transition (checked every second).
    private func watchFeed() {
        loop.schedule(after: 1_000_000_000) { [unowned self] in
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

    /// Connects to the bus, logging what happens to it.
    private func startBus(_ bus: MarketBus) {
        let log = BusEventLog(logger: logger)
        let flags = flagBucket
        bus.onEvent = { event in
            log.record(event)
            switch event {
            case .client(.connected), .client(.moved): flags?.connected()
            default: break
            }
        }
        flags?.start()
        bus.start()
        logger.notice("bus: following \(bus.settings.following == .all ? "every subject" : "subscribed symbols")",
                      metadata: ["servers": "\(bus.settings.servers.map(\.description).joined(separator: ","))",
                                 "prefix": "\(bus.settings.prefix)", "stream": "\(bus.settings.stream)"])
    }

    /// Keepalive probes on the listener: accepted sockets inherit them (Linux copies socket
    /// options from the listener), so no syscall is added per connection.
    private func setKeepalive(_ fd: Int32) {
        guard configuration.tcpKeepalive > 0 else { return }
        let idle = Int32(max(1, configuration.tcpKeepalive.rounded()))
        for (level, name, value) in [(SOL_SOCKET, SO_KEEPALIVE, 1), (Int32(IPPROTO_TCP), TCP_KEEPIDLE, idle),
                                     (Int32(IPPROTO_TCP), TCP_KEEPINTVL, 10), (Int32(IPPROTO_TCP), TCP_KEEPCNT, 3)] {
            do { try Socket.setOption(fd, level, name, value) } catch {
                logger.warning("could not set TCP keepalive on the listener", metadata: ["error": "\(error)"])
            }
        }
    }

    /// The periodic sweep that pings silent WebSockets and closes idle ones.
    private func startLivenessChecks() {
        let ping = configuration.pingInterval > 0 ? ConnectionLimits.nanoseconds(configuration.pingInterval) : .max
        let idle = configuration.idleTimeout > 0 ? ConnectionLimits.nanoseconds(configuration.idleTimeout) : .max
        guard ping != .max || idle != .max else { return }
        let policy = LivenessPolicy(pingInterval: ping, idleTimeout: idle)
        livenessCheck = loop.scheduleRepeating(every: policy.checkInterval) { [connections] in
            connections.checkLiveness(policy: policy)
        }
    }

    /// A listener whose connections `registry` admits (the public one, or the admin one).
    func makeListener(_ fd: Int32, for registry: ConnectionRegistry) throws -> Listener {
        try Listener(fd: fd, loop: loop, onAccept: { registry.accept($0, from: $1) },
                     onRefuse: { registry.refuse($0, because: nil) },
                     onError: { [unowned self] error in
                         self.context.metrics.acceptErrors += 1
                         self.logger.warning("accept failed", metadata: ["error": "\(error)"])
                     })
    }

    /// Starts (if needed) and runs the loop until a drain has finished.
    public func run() throws {
        if listener == nil { try start() }
        loop.run()
    }

    /// Whether this instance accepts connections (not yet handed over or released).
    var isListening: Bool { listener != nil }

    /// With --admin-port: binds the admin listener. SO_REUSEPORT: a successor taking the
    /// listener over binds its own beside ours (we close ours when it has taken over), and a
    /// standby taking everything back binds again beside the successor's.
    func openAdminListener() throws {
        guard let port = configuration.adminPort, let adminConnections else { return }
        guard let address = SocketAddress(host: configuration.adminHost, port: adminAddress?.port ?? port) else {
            throw SystemError("invalid admin address \(configuration.adminHost):\(port)", errno: EINVAL)
        }
        let adminFD = try Socket.listen(on: address, reusePort: true, backlog: 64)
        adminListener = try makeListener(adminFD, for: adminConnections)
        adminAddress = Socket.localAddress(adminFD)
    }

    /// Binds the control socket where a successor asks for the listener.
    func openControlSocket() throws {
        guard let path = configuration.controlSocket else { return }
        control = try ControlSocket(path: path, loop: loop, logger: logger,
                                    listenerToHandOver: { [unowned self] in self.listener?.fd },
                                    refusal: { [unowned self] in self.takeoverRefusal() },
                                    listenerTakenOver: { [unowned self] in self.listenerWasTakenOver(handover: $0, successorReads: $1) })
    }

    /// Returns true when the control connection stays open for a watch.
    private func listenerWasTakenOver(handover channel: ControlChannel?, successorReads: Int) -> Bool {
        guard let listener else { return false }
        listenerHandedOver = true
        listener.detach()  // our copy stays open until we know whether a standby needs it
        self.listener = nil
        adminListener?.close()  // the new instance has its own beside it (SO_REUSEPORT)
        adminListener = nil
        var kept = false
        if let channel, handOverConnections(over: channel, successorReads: successorReads) {
            kept = beginStandby(over: channel, listenerFD: listener.fd)
        }
        if !kept { Glibc.close(listener.fd) }  // the new instance holds its own descriptor
        drain.begin(trigger: "takeover", skipGrace: true)
        return kept
    }

    /// The successor asked for the live connections too: what can move moves, the rest (and
    /// everything, if the handover is refused or breaks) is drained. True when it completed.
    @discardableResult
    func handOverConnections(over channel: ControlChannel, successorReads: Int) -> Bool {
        let started = MonotonicClock.now()
        let before = connections.count
        let outcome = HandoverSender(channel: channel, context: context, service: marketData, connections: connections,
                                     endpoint: marketEndpoint, simulator: simulator, successorReads: successorReads).run()
        let metadata: Logger.Metadata = [
            "moved": "\(outcome.moved)", "staying": "\(connections.count)", "connections_before": "\(before)",
            "milliseconds": "\(Double((MonotonicClock.now() - started) / 1000) / 1000)"]
        if let why = outcome.stoppedBecause {
            logger.warning("handover stopped short: \(why); what stays here is drained", metadata: metadata)
        } else {
            logger.notice("handover: connections moved to the new instance; what stays here is drained", metadata: metadata)
        }
        return outcome.stoppedBecause == nil
    }

    /// `--handover connections`: takes the running instance's market and live connections
    /// before this loop first runs, so nothing is written to them until all have arrived.
    /// (A standby rolling back runs it too, with nothing of its own to write meanwhile.)
    @discardableResult
    func receiveConnections(over channel: ControlChannel) -> (completed: Bool, marketApplied: Bool) {
        let started = MonotonicClock.now()
        let service = marketData, endpoint = marketEndpoint, registry = connections, simulator = simulator
        var marketApplied = false
        let outcome = HandoverReceiver(channel: channel).run(
            applyMarket: { market in
                marketApplied = true
                for (name, state) in market.states { service.restore(name, state: state) }
                // The same sequence space continues here; a format-1 sender had none to give.
                if let epoch = market.epoch { service.epoch = epoch }
                if let position = market.simulator { simulator?.resume(from: position) }
            },
            adopt: { fd, session in
                // Continued, or taken only to be closed with 1001 (it did not fit here).
                var continued = false
                let taken = registry.adopt(fd) { socket, delegate in
                    let connection = endpoint.adopt(session, socket: socket, delegate: delegate)
                    continued = connection?.acceptsData ?? false
                    return connection
                }
                return taken && continued
            })
        context.metrics.handoverAdopted &+= UInt64(outcome.adopted)
        context.metrics.handoverFailed &+= UInt64(outcome.failed)
        let metadata: Logger.Metadata = [
            "adopted": "\(outcome.adopted)", "failed": "\(outcome.failed)",
            "milliseconds": "\(Double((MonotonicClock.now() - started) / 1000) / 1000)"]
        if let why = outcome.stoppedBecause {
            logger.warning("handover: \(why)", metadata: metadata)
        } else {
            logger.notice("handover: adopted the running instance's connections", metadata: metadata)
        }
        return (outcome.stoppedBecause == nil, marketApplied)
    }

    /// With --reuse-port: accept what is already queued on our listener, then close it, so new
    /// connections go to the other instance on the port. (Linux resets connections that reach
    /// a SO_REUSEPORT listener's queue between the last accept and the close; the sweep keeps
    /// that window to a few microseconds.)
    private func releaseSharedListener() {
        guard let listener else { return }
        listener.acceptAllPending()
        listener.close()
        self.listener = nil
        logger.notice("drain: closed the shared SO_REUSEPORT listener; new connections go to the other instance")
    }

    /// A draining instance stops simulating into the bus at once: each symbol has one writer,
    /// and the successor (or another instance) takes over. Its clients keep being served from
    /// the bus. (A local simulator keeps running for the clients still here.)
    private func stopWritingToBus() {
        guard configuration.simulatorTarget == .bus, let simulator, simulator.isRunning else { return }
        simulator.stop()
        logger.notice("drain: stopped simulating into the bus (one writer per symbol; another instance takes over)")
    }

    /// The end of a drain: close what is left of ours and leave the loop; a standby stays.
    func stopAfterDrain() {
        if standby != nil {
            logger.notice("standby: serving nothing while the new version is watched")
            return
        }
        recorder?.stop()
        simulator?.stop()
        bus?.stop()
        livenessCheck?.cancel()
        listener?.close()
        listener = nil
        adminListener?.close()
        adminListener = nil
        control?.close(unlink: !listenerHandedOver)
        control = nil
        loop.stop()
    }
}
