import ByteBuffers
import EventLoop
import Glibc

/// A NATS client on our event loop: one non-blocking connection to one of the servers (TLS
/// when asked), the text protocol, subscriptions that survive reconnects, request/reply
/// through one inbox, and keepalive pings. No thread and no blocking call: name lookups run in
/// the background (`HostResolver`), everything else is the loop's.
///
/// Delivery is at most once, as in NATS itself: what was in flight when a connection broke is
/// lost, and the caller learns of the reconnect through `onEvent` (to fetch state again). A
/// server's announced shutdown (lame-duck mode) loses nothing: the client moves make before
/// break (see `moveOff`). Output is bounded: past `maxPendingBytes` queued, `publish` refuses
/// and the caller decides what to keep (the market bus keeps the newest state per symbol).
public final class NATSClient: NATSLinkOwner {
    public struct Settings: Sendable {
        public var servers: [NATSServerURL]
        public var connect: NATSConnectOptions
        /// TLS for a connection to the named host (`tls://` URLs, and servers that require it).
        public var makeSecurity: (@Sendable (String) -> TransportSecurity)?
        /// TCP connect, INFO, TLS and the CONNECT/PING round trip together must finish within this.
        public var connectTimeout: UInt64 = 2_000_000_000
        /// A PING every interval while connected; this many unanswered close the connection.
        public var pingInterval: UInt64 = 5_000_000_000
        public var maxPingsOutstanding = 2
        /// Delay before a reconnect: doubles per failed attempt from the first to the second
        /// bound, each delay drawn between half and all of it (jitter, so a fleet does not
        /// reconnect in step).
        public var reconnectDelay: (first: UInt64, most: UInt64) = (100_000_000, 5_000_000_000)
        /// A move off a server in lame-duck mode starts after a delay drawn up to this, so a
        /// fleet does not stampede one server; NATS waits 10 s by default before it starts
        /// closing clients.
        public var lameDuckJitter: UInt64 = 1_000_000_000
        /// How long the old connection keeps receiving after the new one is in place, while
        /// the cluster learns of the new subscriptions.
        public var moveOverlap: UInt64 = 500_000_000
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
        /// The server entered lame-duck mode: this client moves to another server in `in` ns.
        case lameDuck(NATSServerURL, in: UInt64)
        /// Moved off a server in lame-duck mode: the new connection took over (subscriptions in
        /// place) before the old one closed.
        case moved(from: NATSServerURL, to: NATSServerURL, NATSServerInfo)
        /// A move could not open another connection: the client stays until the server closes
        /// it, then reconnects as after any loss.
        case moveFailed(NATSServerURL, reason: String)
        /// The cluster announced servers this client did not know; they join the list it
        /// connects and reconnects through.
        case discovered([NATSServerURL])
    }

    public let settings: Settings
    public var status: Status {
        switch link?.state {
        case .ready?: return .connected
        case .connecting?: return .connecting
        case .ended?, nil: return .disconnected
        }
    }
    /// The server connected to, or being tried.
    public var server: NATSServerURL? { link?.server }
    public var serverInfo: NATSServerInfo { link?.info ?? NATSServerInfo() }
    public private(set) var statistics = NATSStatistics()
    public var onEvent: ((Event) -> Void)?

    private let loop: EventLoop
    private let resolver: HostResolver
    /// The connection in use (connecting or ready).
    private var link: NATSLink?
    /// A connection opening to another server while `link`'s is in lame-duck mode.
    private var successor: NATSLink?
    private var successorIndex = 0
    /// Other servers tried so far by the move in progress.
    private var successorTried = 0
    /// The connection moved off: it keeps receiving for `moveOverlap` and publishes nothing.
    private var retiring: NATSLink?
    /// Publishes wait until the server moved off has handled what was sent to it, so a
    /// writer's numbering never overtakes itself across two servers.
    private var holdingPublishes = false
    /// The jittered wait before a move starts.
    private var moveTimer: Timer?
    /// The overlap after a move, at whose end the old connection closes.
    private var overlapTimer: Timer?
    private var retryTimer: Timer?
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
        moveTimer?.cancel()
        moveTimer = nil
        successor?.close(flushingFirst: false)
        successor = nil
        endRetiring()
        link?.close(flushingFirst: true)
        link = nil
        requests.failAll(.disconnected)
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
        sendToEvery { NATSCommands.subscribe(subject, sid: sid, to: &$0) }
        return sid
    }

    public func unsubscribe(_ sid: UInt64) {
        guard subscriptions.removeValue(forKey: sid) != nil else { return }
        sendToEvery { NATSCommands.unsubscribe(sid: sid, to: &$0) }
    }

    /// Whether `publish` would take a message of `bytes` now.
    public func canPublish(bytes: Int = 0) -> Bool { !holdingPublishes && canSend(bytes: bytes) }

    /// Whether the connection in use takes a message of `bytes` now (a request may go while a
    /// move holds publishes: it is not a writer's numbered update).
    private func canSend(bytes: Int) -> Bool {
        guard let link, link.state == .ready, let socket = link.socket else { return false }
        return socket.outboundBytes < settings.maxPendingBytes && bytes <= link.info.maxPayload
    }

    /// Queues a message. False (and nothing sent) when not connected, while a move off a
    /// server in lame-duck mode settles, when the output bound is reached, or when the payload
    /// is over the server's `max_payload` (which would make the server drop the connection).
    @discardableResult
    public func publish(_ subject: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer) -> Bool {
        guard !holdingPublishes else {
            statistics.publishesRefused &+= 1
            return false
        }
        return send(subject, replyTo: nil, payload: payload)
    }

    private func send(_ subject: UnsafeRawBufferPointer, replyTo: UnsafeRawBufferPointer?, payload: UnsafeRawBufferPointer) -> Bool {
        guard canSend(bytes: payload.count), let link else {
            statistics.publishesRefused &+= 1
            return false
        }
        scratch.removeAll(keepingCapacity: true)
        NATSCommands.publish(subject, replyTo: replyTo, payload: payload, to: &scratch)
        scratch.withUnsafeBytes { link.send($0) }
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
                    send(UnsafeRawBufferPointer(subjectPointer), replyTo: UnsafeRawBufferPointer(replyPointer), payload: $0)
                }
            }
        }
        if !sent { requests.fail(token, .notConnected) }
    }

    // MARK: Connecting

    private func attempt() {
        guard !stopped, link == nil else { return }
        statistics.connectAttempts &+= 1
        link = NATSLink(owner: self, loop: loop, resolver: resolver, server: servers[serverIndex], settings: settings)
    }

    func linkWantsConnect(_ link: NATSLink, info: NATSServerInfo) -> Result<[UInt8], NATSLinkFailure> {
        learnServers(info.connectURLs, from: link.server)
        var options = settings.connect
        let server = link.server
        if server.token != nil { options.token = server.token }
        if server.user != nil { options.user = server.user; options.password = server.password }
        options.tlsRequired = server.tls || info.tlsRequired
        if let credentials = options.credentials, let nonce = info.nonce {
            switch credentials.sign(nonce: nonce) {
            case .success(let signature): options.signature = signature
            case .failure(let problem): return .failure(NATSLinkFailure(reason: problem.description))
            }
        }
        var out: [UInt8] = []
        NATSCommands.connect(options, to: &out)
        for (sid, subscription) in subscriptions.sorted(by: { $0.key < $1.key }) {
            NATSCommands.subscribe(subscription.subject, sid: sid, to: &out)
        }
        return .success(out)
    }

    func linkReady(_ ready: NATSLink) {
        if ready === successor {
            completeMove(to: ready)
            return
        }
        guard ready === link else { return }
        failedAttempts = 0
        statistics.connects &+= 1
        onEvent?(.connected(ready.server, ready.info))
    }

    func link(_ link: NATSLink, read byteCount: Int) {
        statistics.bytesIn &+= UInt64(byteCount)
    }

    func link(_ from: NATSLink, received operation: NATSServerOperation) {
        switch operation {
        case .message(let message):
            statistics.messagesIn &+= 1
            statistics.payloadBytesIn &+= UInt64(message.payload.count)
            // Out of the table before the call: a handler may subscribe or unsubscribe.
            guard let subscription = subscriptions[message.sid] else { return }
            subscription.handler(message)
        case .info:
            // The link has read it already.
            let info = from.info
            learnServers(info.connectURLs, from: from.server)
            if info.lameDuck && from === link && from.state == .ready && successor == nil && moveTimer == nil {
                let delay = UInt64.random(in: 0...settings.lameDuckJitter)
                onEvent?(.lameDuck(from.server, in: delay))
                moveTimer = loop.schedule(after: delay) { [unowned self] in
                    self.moveTimer = nil
                    self.moveOff(from, tried: 0)
                }
            }
        case .error(let text):
            statistics.serverErrors &+= 1
            onEvent?(.serverError(text))
        case .ok, .ping, .pong:
            break
        }
    }

    func linkEnded(_ ended: NATSLink, reason: String, wasReady: Bool) {
        if ended.endedByProtocolError { statistics.protocolErrors &+= 1 }
        if ended === retiring {
            endRetiring()
            return
        }
        if ended === successor {
            successor = nil
            guard let current = link, current.state == .ready else { return }
            moveOff(current, tried: successorTried + 1, lastFailure: reason)
            return
        }
        guard ended === link else { return }
        link = nil
        moveTimer?.cancel()
        moveTimer = nil
        // Whatever the old server of a move still had to confirm no longer matters.
        endRetiring()
        if wasReady {
            statistics.disconnects &+= 1
            onEvent?(.disconnected(ended.server, reason: reason))
            if let successor {
                // The server closed us before the move finished: the new connection becomes
                // the attempt, finishing its handshake as a reconnect.
                self.successor = nil
                link = successor
                serverIndex = successorIndex
                statistics.connectAttempts &+= 1
                return
            }
            requests.failAll(.disconnected)
            guard !stopped else { return }
            // Soon, and to the next server: the one we were on just failed.
            serverIndex = (serverIndex + 1) % servers.count
            retryTimer = loop.schedule(after: Self.jittered(settings.reconnectDelay.first)) { [unowned self] in self.attempt() }
        } else {
            statistics.connectFailures &+= 1
            requests.failAll(.disconnected)
            guard !stopped else { return }
            let delay = scheduleRetry()
            onEvent?(.connectFailed(ended.server, reason: reason, retryIn: delay))
        }
    }

    // MARK: Moving off a server in lame-duck mode

    /// Make before break: a connection to another server is opened and handed every
    /// subscription; once that server has accepted them, it takes over publishing (after the
    /// old server has handled what was sent to it) and the old connection keeps receiving for
    /// `moveOverlap` before it closes. Messages that come through both are the caller's to
    /// drop (the market bus drops them by `seq`).
    private func moveOff(_ old: NATSLink, tried: Int, lastFailure: String? = nil) {
        guard !stopped, old === link, old.state == .ready, successor == nil else { return }
        let others = servers.indices.filter { !servers[$0].sameServer(as: old.server) }
        guard tried < others.count else {
            onEvent?(.moveFailed(old.server, reason: lastFailure ?? "no other server is known"))
            return
        }
        // The next server after the current one in the list, then the ones after it.
        let position = others.firstIndex(where: { $0 > serverIndex }) ?? 0
        let index = others[(position + tried) % others.count]
        statistics.connectAttempts &+= 1
        successor = NATSLink(owner: self, loop: loop, resolver: resolver, server: servers[index], settings: settings)
        successorIndex = index
        successorTried = tried
    }

    private func completeMove(to new: NATSLink) {
        guard let old = link else { return }
        successor = nil
        link = new
        serverIndex = successorIndex
        failedAttempts = 0
        statistics.moves &+= 1
        endRetiring()
        retiring = old
        holdingPublishes = true
        old.afterServerHandled { [unowned self] in
            if self.retiring === old { self.holdingPublishes = false }
        }
        overlapTimer = loop.schedule(after: settings.moveOverlap) { [unowned self] in
            self.overlapTimer = nil
            self.endRetiring()
        }
        onEvent?(.moved(from: old.server, to: new.server, new.info))
    }

    /// Closes the connection a move left (once what it queued is written) and lets publishing go
    /// on without waiting for it.
    private func endRetiring() {
        overlapTimer?.cancel()
        overlapTimer = nil
        holdingPublishes = false
        retiring?.close(flushingFirst: true)
        retiring = nil
    }

    /// Adds the servers a cluster announces (`connect_urls`, in the first INFO and whenever the
    /// cluster changes), with the credentials and TLS of the server they came from, so `--bus`
    /// needs one URL of a cluster.
    private func learnServers(_ announced: [String], from: NATSServerURL) {
        var added: [NATSServerURL] = []
        for text in announced {
            guard let url = Self.hostPort(text, like: from), !servers.contains(where: { $0.sameServer(as: url) }) else { continue }
            servers.append(url)
            added.append(url)
        }
        if !added.isEmpty { onEvent?(.discovered(added)) }
    }

    /// `host:port` or `[v6]:port`, as a URL with `like`'s credentials and TLS.
    static func hostPort(_ text: String, like: NATSServerURL) -> NATSServerURL? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        return NATSServerURL(host: host, port: port, user: like.user, password: like.password, token: like.token, tls: like.tls)
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

    /// Queues a command on every connection that has sent CONNECT (the one in use and, during
    /// a move, the one taking over).
    private func sendToEvery(_ write: (inout [UInt8]) -> Void) {
        scratch.removeAll(keepingCapacity: true)
        write(&scratch)
        for each in [link, successor] {
            guard let each, each.connectSent else { continue }
            scratch.withUnsafeBytes { each.send($0) }
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
    /// Moves off a server in lame-duck mode that finished make before break.
    public var moves: UInt64 = 0
    public var protocolErrors: UInt64 = 0

    public init() {}
}
