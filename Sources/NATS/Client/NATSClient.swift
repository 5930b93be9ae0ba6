import ByteBuffers
import EventLoop
import Glibc

/// A NATS client on our event loop: one non-blocking TCP connection to one of the servers,
/// the text protocol, subscriptions that survive reconnects, request/reply through one inbox,
/// and keepalive pings. No thread and no blocking call: name lookups run in the background
/// (`HostResolver`), everything else is the loop's.
///
/// Delivery is at most once, as in NATS itself: what was in flight when a connection broke is
/// lost, and the caller learns of the reconnect through `onEvent` (to fetch state again).
/// Output is bounded: past `maxPendingBytes` queued, `publish` refuses and the caller decides
/// what to keep (the market bus keeps the newest state per symbol).
public final class NATSClient: StreamSocketDelegate {
    public struct Settings: Sendable {
        public var servers: [NATSServerURL]
        public var connect: NATSConnectOptions
        /// TCP connect, INFO and the CONNECT/PING round trip together must finish within this.
        public var connectTimeout: UInt64 = 2_000_000_000
        /// A PING every interval while connected; this many unanswered close the connection.
        public var pingInterval: UInt64 = 5_000_000_000
        public var maxPingsOutstanding = 2
        /// Delay before a reconnect: doubles per failed attempt from the first to the second
        /// bound, each delay drawn between half and all of it (jitter, so a fleet does not
        /// reconnect in step).
        public var reconnectDelay: (first: UInt64, most: UInt64) = (100_000_000, 5_000_000_000)
        /// Output queued on the socket past which `publish` refuses.
        public var maxPendingBytes = 8 << 20

        public init(servers: [NATSServerURL], connect: NATSConnectOptions) {
            self.servers = servers
            self.connect = connect
        }
    }

    public enum Status: Sendable, Equatable {
        case disconnected, connecting, connected
    }

    /// What happened, for logs and metrics.
    public enum Event: Sendable {
        /// The handshake finished; subscriptions are in place again.
        case connected(NATSServerURL, NATSServerInfo)
        /// An established connection ended.
        case disconnected(NATSServerURL, reason: String)
        /// An attempt failed before the handshake finished; the next one is in `retryIn` ns.
        case connectFailed(NATSServerURL, reason: String, retryIn: UInt64)
        /// `-ERR` from the server (a fatal one is followed by the server closing).
        case serverError(String)
        /// The server entered lame-duck mode: this client moves to another server.
        case lameDuck(NATSServerURL)
        /// The cluster announced servers this client did not know; they join the list it
        /// connects and reconnects through.
        case discovered([NATSServerURL])
    }

    public let settings: Settings
    public private(set) var status = Status.disconnected
    /// The server connected to, or being tried.
    public private(set) var server: NATSServerURL?
    public private(set) var serverInfo = NATSServerInfo()
    public private(set) var statistics = NATSStatistics()
    public var onEvent: ((Event) -> Void)?

    private let loop: EventLoop
    private let resolver: HostResolver
    private var parser = NATSParser()
    private var socket: StreamSocket?
    private var connector: Connector?
    private var lookup: HostResolver.Lookup?
    private var handshakeTimer: Timer?
    private var retryTimer: Timer?
    private var pingTimer: Timer?
    private var pingsOutstanding = 0
    /// CONNECT has been queued on the current socket: SUB and PUB may follow it.
    private var connectSent = false
    private var serverIndex = 0
    /// The servers tried in turn: those configured, then those the cluster announced.
    public private(set) var servers: [NATSServerURL]
    private var failedAttempts = 0
    private var stopped = true
    private var scratch: [UInt8] = []

    private struct Subscription {
        let subject: String
        let handler: (NATSMessage) -> Void
    }
    private var subscriptions: [UInt64: Subscription] = [:]
    private var nextSID: UInt64 = 1

    private let requests = NATSRequests()

    public init(loop: EventLoop, settings: Settings) {
        precondition(!settings.servers.isEmpty, "a NATS client needs at least one server")
        self.loop = loop
        self.settings = settings
        resolver = HostResolver(loop: loop)
        servers = settings.servers
        serverIndex = Int.random(in: 0..<settings.servers.count)
        scratch.reserveCapacity(4096)
    }

    /// Starts connecting (and reconnecting, until `stop`).
    public func start() {
        guard stopped else { return }
        stopped = false
        attempt()
    }

    /// Closes the connection (flushing what is queued) and stops reconnecting.
    public func stop() {
        stopped = true
        retryTimer?.cancel()
        teardown(flushingFirst: true)
    }

    /// Subjects subscribed to (each re-sent after a reconnect).
    public var subscriptionCount: Int { subscriptions.count }

    /// Subscribes `handler` to `subject` (wildcards allowed) and returns its id. The message is
    /// borrowed: its bytes are valid only during the call.
    @discardableResult
    public func subscribe(_ subject: String, handler: @escaping (NATSMessage) -> Void) -> UInt64 {
        let sid = nextSID
        nextSID += 1
        subscriptions[sid] = Subscription(subject: subject, handler: handler)
        if connectSent { send { NATSCommands.subscribe(subject, sid: sid, to: &$0) } }
        return sid
    }

    public func unsubscribe(_ sid: UInt64) {
        guard subscriptions.removeValue(forKey: sid) != nil else { return }
        if connectSent { send { NATSCommands.unsubscribe(sid: sid, to: &$0) } }
    }

    /// Whether `publish` would take a message of `bytes` now.
    public func canPublish(bytes: Int = 0) -> Bool {
        guard status == .connected, let socket else { return false }
        return socket.outboundBytes < settings.maxPendingBytes && bytes <= serverInfo.maxPayload
    }

    /// Queues a message. False (and nothing sent) when not connected, when the output bound is
    /// reached, or when the payload is over the server's `max_payload` (which would make the
    /// server drop the connection).
    @discardableResult
    public func publish(_ subject: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer,
                        replyTo: UnsafeRawBufferPointer? = nil) -> Bool {
        guard canPublish(bytes: payload.count), let socket else {
            statistics.publishesRefused &+= 1
            return false
        }
        scratch.removeAll(keepingCapacity: true)
        NATSCommands.publish(subject, replyTo: replyTo, payload: payload, to: &scratch)
        scratch.withUnsafeBytes { socket.enqueueCopy($0) }
        statistics.messagesOut &+= 1
        statistics.bytesOut &+= UInt64(payload.count)
        return true
    }

    @discardableResult
    public func publish(_ subject: String, payload: UnsafeRawBufferPointer) -> Bool {
        var subject = subject
        return subject.withUTF8 { publish(UnsafeRawBufferPointer($0), payload: payload) }
    }

    /// Sends a request and calls `completion` once with the first reply, or an error: not
    /// connected, no responders (nobody subscribes to `subject`), the connection was lost, or
    /// no reply within `timeout` ns.
    public func request(_ subject: String, payload: [UInt8], timeout: UInt64,
                        completion: @escaping (Result<NATSReply, NATSRequestError>) -> Void) {
        guard status == .connected else {
            completion(.failure(.notConnected))
            return
        }
        if requests.inboxSID == nil {
            requests.inboxSID = subscribe(requests.inboxPrefix + "*") { [unowned self] message in
                self.requests.complete(message)
            }
        }
        let token = requests.add(timeout: timeout, loop: loop, completion: completion)
        let replyTo = requests.inboxPrefix + token
        var subjectBytes = subject
        var replyBytes = replyTo
        let sent = subjectBytes.withUTF8 { subjectPointer in
            replyBytes.withUTF8 { replyPointer in
                payload.withUnsafeBytes {
                    publish(UnsafeRawBufferPointer(subjectPointer), payload: $0, replyTo: UnsafeRawBufferPointer(replyPointer))
                }
            }
        }
        if !sent { requests.fail(token, .notConnected) }
    }

    // MARK: Connecting

    private func attempt() {
        guard !stopped, socket == nil, connector == nil, lookup == nil else { return }
        let target = servers[serverIndex]
        server = target
        status = .connecting
        statistics.connectAttempts &+= 1
        handshakeTimer = loop.schedule(after: settings.connectTimeout) { [unowned self] in
            self.failAttempt("no handshake within \(self.settings.connectTimeout / 1_000_000) ms")
        }
        lookup = resolver.resolve(target.host, port: target.port, timeout: settings.connectTimeout) { [unowned self] result in
            self.lookup = nil
            switch result {
            case .failure(let error):
                self.failAttempt("\(error)")
            case .success(let address):
                do {
                    self.connector = try Connector(loop: self.loop, to: address) { [unowned self] result in
                        self.connector = nil
                        switch result {
                        case .failure(let error): self.failAttempt("\(error)")
                        case .success(let fd): self.connected(fd)
                        }
                    }
                } catch {
                    self.failAttempt("\(error)")
                }
            }
        }
    }

    private func connected(_ fd: Int32) {
        do {
            parser = NATSParser()
            socket = try StreamSocket(fd: fd, loop: loop, maxBufferedInput: parser.maxPayload + 65536,
                                      outboundHighWater: settings.maxPendingBytes * 4)
            socket?.delegate = self
        } catch {
            _ = Glibc.close(fd)
            failAttempt("\(error)")
        }
        // Now the server speaks first: INFO.
    }

    private func receivedInfo(_ info: NATSServerInfo) {
        serverInfo = info
        learnServers(info.connectURLs)
        parser.maxPayload = info.maxPayload
        socket?.maxBufferedInput = info.maxPayload + 65536
        if connectSent {
            if info.lameDuck, let server {
                onEvent?(.lameDuck(server))
                drop("server entered lame duck mode")
            }
            return
        }
        var options = settings.connect
        if let server {
            if server.token != nil { options.token = server.token }
            if server.user != nil { options.user = server.user; options.password = server.password }
        }
        connectSent = true
        send { out in
            NATSCommands.connect(options, to: &out)
            for (sid, subscription) in self.subscriptions.sorted(by: { $0.key < $1.key }) {
                NATSCommands.subscribe(subscription.subject, sid: sid, to: &out)
            }
            NATSCommands.ping(to: &out)
        }
    }

    /// Adds the servers a cluster announces (`connect_urls`, in the first INFO and whenever the
    /// cluster changes), with the credentials of the server they came from, so `--bus` needs
    /// one URL of a cluster.
    private func learnServers(_ announced: [String]) {
        guard let from = server else { return }
        var added: [NATSServerURL] = []
        for text in announced {
            guard let url = Self.hostPort(text, like: from),
                  !servers.contains(where: { $0.host == url.host && $0.port == url.port }) else { continue }
            servers.append(url)
            added.append(url)
        }
        if !added.isEmpty { onEvent?(.discovered(added)) }
    }

    /// `host:port` or `[v6]:port`, as a URL with `like`'s credentials.
    static func hostPort(_ text: String, like: NATSServerURL) -> NATSServerURL? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        return NATSServerURL(host: host, port: port, user: like.user, password: like.password, token: like.token)
    }

    /// The handshake's PONG: the server accepted CONNECT and every SUB before it.
    private func handshakeFinished() {
        handshakeTimer?.cancel()
        handshakeTimer = nil
        status = .connected
        failedAttempts = 0
        statistics.connects &+= 1
        pingsOutstanding = 0
        pingTimer = loop.scheduleRepeating(every: settings.pingInterval) { [unowned self] in self.keepalive() }
        if let server { onEvent?(.connected(server, serverInfo)) }
    }

    private func keepalive() {
        guard status == .connected else { return }
        if pingsOutstanding >= settings.maxPingsOutstanding {
            drop("stale connection: \(pingsOutstanding) pings unanswered")
            return
        }
        pingsOutstanding += 1
        send { NATSCommands.ping(to: &$0) }
    }

    /// An attempt that did not reach the handshake's end: try the next server after a delay
    /// that grows with each failure.
    private func failAttempt(_ reason: String) {
        guard let target = server, status == .connecting else { return }
        teardown()
        statistics.connectFailures &+= 1
        guard !stopped else { return }
        let delay = scheduleRetry()
        onEvent?(.connectFailed(target, reason: reason, retryIn: delay))
    }

    /// Ends the connection, established or not, and schedules the next attempt.
    private func drop(_ reason: String) {
        guard status == .connected, let target = server else {
            failAttempt(reason)
            return
        }
        teardown()
        statistics.disconnects &+= 1
        guard !stopped else { return }
        onEvent?(.disconnected(target, reason: reason))
        // Soon, and to the next server: the one we were on just failed.
        serverIndex = (serverIndex + 1) % servers.count
        retryTimer = loop.schedule(after: Self.jittered(settings.reconnectDelay.first)) { [unowned self] in self.attempt() }
    }

    private func scheduleRetry() -> UInt64 {
        serverIndex = (serverIndex + 1) % servers.count
        let exponent = min(failedAttempts, 16)
        failedAttempts += 1
        let ceiling = min(settings.reconnectDelay.most, settings.reconnectDelay.first << UInt64(exponent))
        let delay = Self.jittered(ceiling)
        retryTimer = loop.schedule(after: delay) { [unowned self] in self.attempt() }
        return delay
    }

    /// Between half and all of `delay`.
    static func jittered(_ delay: UInt64) -> UInt64 {
        delay / 2 + UInt64.random(in: 0...max(1, delay / 2))
    }

    /// Ends the current connection: closes its socket (at once, or once what is queued is
    /// written), forgets the connector, lookup and timers, and fails requests in flight.
    private func teardown(flushingFirst: Bool = false) {
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
        if let socket {
            socket.delegate = nil
            if flushingFirst { socket.shutdownAfterFlush(lingerTimeout: 1_000_000_000) } else { socket.close() }
        }
        socket = nil
        status = .disconnected
        connectSent = false
        requests.failAll(.disconnected)
    }

    private func send(_ write: (inout [UInt8]) -> Void) {
        guard let socket else { return }
        scratch.removeAll(keepingCapacity: true)
        write(&scratch)
        scratch.withUnsafeBytes { socket.enqueueCopy($0) }
    }

    // MARK: StreamSocketDelegate

    public func streamSocket(_ socket: StreamSocket, didRead bytes: UnsafeMutableRawBufferPointer) -> Int {
        guard socket === self.socket else { return bytes.count }
        statistics.bytesIn &+= UInt64(bytes.count)
        let result = parser.parse(UnsafeRawBufferPointer(bytes)) { operation in
            guard socket === self.socket else { return }
            handle(operation)
        }
        switch result {
        case .success(let used):
            return used
        case .failure(let error):
            statistics.protocolErrors &+= 1
            drop("protocol error: \(error)")
            return bytes.count
        }
    }

    public func streamSocketDidClose(_ socket: StreamSocket, reason: StreamSocket.CloseReason) {
        guard socket === self.socket else { return }
        drop("connection \(reason)")
    }

    private func handle(_ operation: NATSServerOperation) {
        switch operation {
        case .message(let message):
            statistics.messagesIn &+= 1
            statistics.payloadBytesIn &+= UInt64(message.payload.count)
            // Out of the table before the call: a handler may subscribe or unsubscribe.
            guard let subscription = subscriptions[message.sid] else { return }
            subscription.handler(message)
        case .ping:
            send { NATSCommands.pong(to: &$0) }
        case .pong:
            if status == .connecting {
                handshakeFinished()
            } else {
                pingsOutstanding = 0
            }
        case .ok:
            break
        case .info(let json):
            receivedInfo(NATSServerInfo(json: json))
        case .error(let text):
            statistics.serverErrors &+= 1
            onEvent?(.serverError(text))
            if status == .connecting { drop(text) }
        }
    }
}

/// Counters of one client over its life (all connections).
public struct NATSStatistics: Sendable, Equatable {
    public var connectAttempts: UInt64 = 0
    /// Handshakes completed: the first connection and every reconnect.
    public var connects: UInt64 = 0
    public var connectFailures: UInt64 = 0
    /// Established connections that ended.
    public var disconnects: UInt64 = 0
    public var messagesIn: UInt64 = 0
    public var payloadBytesIn: UInt64 = 0
    /// Every byte read, protocol included.
    public var bytesIn: UInt64 = 0
    public var messagesOut: UInt64 = 0
    public var bytesOut: UInt64 = 0
    /// Publishes refused: not connected, output bound reached, or over max_payload.
    public var publishesRefused: UInt64 = 0
    public var serverErrors: UInt64 = 0
    public var protocolErrors: UInt64 = 0

    public init() {}
}
