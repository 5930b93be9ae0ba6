import Connection
import ByteBuffers
import EventLoop
import Glibc
import Histogram
import MarketData
import WebSocket

/// The market-data workload: C subscriber connections on /ws (a share offering v2, the rest
/// v1), each subscribed to S symbols of the SYMnnnn universe, counting what arrives.
final class MarketLoad: WebSocketClientDelegate {
    struct Options {
        var target: WebSocketURL
        var connections: Int
        var v2Fraction: Double
        var subsPerConnection: Int
        var symbols: Int
        var depth: Int
        var warmup: Double
        var duration: Double
        var dialConcurrency: Int
        var dialRetries: Int
        var sourceAddresses: Int
        var publishRate: Int
        var publisherToken: String?
        var gatewayPID: Int32?
        var quiet: Bool
        /// For a wss:// target.
        var tls: ClientTLS?
        /// Offer permessage-deflate and inflate what arrives compressed.
        var compression: CompressionWorkspace?
        /// Follow the drain protocol: reconnect when told to go (`ReconnectTracker`).
        var reconnect = false
        /// v2 subscriptions ask for deltas.
        var delta = false
        /// v2 subscriptions ask for at most this many updates a second per symbol; seq jumps
        /// are then the cap, counted apart from gaps.
        var maxRate: Int?
        /// Which symbols each connection takes (W1 contiguous, W2 random).
        var layout: SubscriptionLayout
    }

    /// Per connection: what it asked for and the last seq seen per subscribed symbol.
    struct ClientState {
        var wantsV2: Bool
        var attempts = 0
        var lastSeq: [UInt64]
        /// Loop time of its last update (0: none yet), across reconnects: a deploy's pause.
        var lastUpdateAt: UInt64 = 0
    }

    private let loop: EventLoop
    let options: Options
    private var clients: [WebSocketClient?]
    private var state: [ClientState]
    private var nextToDial = 0
    private var dialsInFlight = 0
    private var publisher: FeedPublisher?
    /// Per symbol number: whether any update (a snapshot included) arrived for it.
    private var symbolSeen: [Bool]
    /// With --reconnect: clients that were told to go, and how their return went.
    private(set) var reconnection: ReconnectTracker

    // Counters over the whole run; the report subtracts the warm-up.
    private(set) var counters = Counters()
    struct Counters {
        var messagesV1: UInt64 = 0
        var messagesV2: UInt64 = 0
        var bytes: UInt64 = 0
        /// Updates the subscriptions' max_rate held back (seq jumps on capped subscriptions).
        var capped: UInt64 = 0
        var gaps: UInt64 = 0
        var missed: UInt64 = 0
        /// Longest time any client went without an update while measuring (nanoseconds).
        var longestGap: UInt64 = 0
        var open = 0
        var failedDials = 0
        var unexpectedCloses = 0
        var protocolMismatches = 0
        var errors = 0
    }
    /// End-to-end latency of v2 updates (now - ts), microseconds, over the measured window.
    private(set) var latency = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
    /// The same for the current second, for the live line.
    private var secondLatency = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
    private var measuring = false

    init(loop: EventLoop, options: Options) {
        self.loop = loop
        self.options = options
        clients = Array(repeating: nil, count: options.connections)
        symbolSeen = Array(repeating: false, count: options.symbols)
        reconnection = ReconnectTracker(clients: options.connections, subscriptions: options.subsPerConnection)
        let v2Count = Int((Double(options.connections) * options.v2Fraction).rounded())
        state = (0..<options.connections).map { i in
            ClientState(wantsV2: i < v2Count, lastSeq: Array(repeating: 0, count: options.subsPerConnection))
        }
    }

    /// Symbol number for subscription k of connection i (see `SubscriptionLayout`).
    func symbol(connection i: Int, slot k: Int) -> Int { options.layout.symbol(connection: i, slot: k) }

    /// Subscribed symbols for which nothing at all arrived, not even the snapshot: symbols the
    /// gateway does not serve (a simulator with other names, no publisher for them).
    var silentSymbols: [String] {
        let subscribed = Set((0..<options.connections).flatMap { i in (0..<options.subsPerConnection).map { symbol(connection: i, slot: $0) } })
        return subscribed.sorted().filter { !symbolSeen[$0] }.map(symbolName)
    }

    // MARK: Dialing

    func startDialing() {
        while dialsInFlight < options.dialConcurrency && nextToDial < options.connections {
            dial(nextToDial)
            nextToDial += 1
        }
    }

    private func dial(_ index: Int) {
        let offered = state[index].wantsV2 ? ["v2", "v1"] : ["v1"]
        let client = WebSocketClient(loop: loop, target: options.target, index: index, subprotocols: offered, tls: options.tls,
                                     compression: options.compression)
        client.delegate = self
        clients[index] = client
        state[index].attempts += 1
        dialsInFlight += 1
        var source: SocketAddress?
        if options.sourceAddresses > 1 {
            source = SocketAddress(host: "127.0.0.\(1 + index % options.sourceAddresses)", port: 0)
        }
        do {
            try client.start(from: source)
        } catch {
            dialFailed(index, reason: "\(error)")
        }
    }

    private func dialFailed(_ index: Int, reason: String) {
        dialsInFlight -= 1
        clients[index] = nil
        if state[index].attempts <= options.dialRetries {
            loop.schedule(after: 100_000_000) { self.dial(index) }  // strong: a weak capture slows every retain
        } else {
            counters.failedDials += 1
            if !options.quiet { print("connection \(index) failed to connect: \(reason)") }
        }
        startDialing()
    }

    // MARK: Client events

    func clientDidOpen(_ client: WebSocketClient, subprotocol: String?) {
        let i = client.index
        dialsInFlight -= 1
        counters.open += 1
        if allOpenAfter == nil && counters.open == options.connections { allOpenAfter = Double(MonotonicClock.now() - startedAt) / 1e6 }
        reconnection.connectionOpened(client: i, now: MonotonicClock.now())
        let expected = state[i].wantsV2 ? "v2" : "v1"
        if subprotocol != expected { counters.protocolMismatches += 1 }
        var text: String
        let names = (0..<options.subsPerConnection).map { k in symbolName(symbol(connection: i, slot: k)) }
        if state[i].wantsV2 {
            // Through deploys the client asks for the epoch, to tell a restart from a rewind.
            text = #"{"type":"subscribe","symbols":["# + names.map { "\"\($0)\"" }.joined(separator: ",") + #"],"depth":\#(options.depth)"#
                + (options.reconnect ? #","epoch":true"# : "") + (options.delta ? #","delta":true"# : "")
                + (options.maxRate.map { #","max_rate":\#($0)"# } ?? "") + "}"
            Array(text.utf8).withUnsafeBytes { client.send(opcode: .text, payload: $0) }
        } else {
            for name in names {
                text = #"{"type":"subscribe","symbol":"\#(name)"}"#
                Array(text.utf8).withUnsafeBytes { client.send(opcode: .text, payload: $0) }
            }
        }
        startDialing()
    }

    func client(_ client: WebSocketClient, didReceive opcode: Opcode, payload: UnsafeRawBufferPointer) {
        let i = client.index
        guard let number = UpdateScanner.symbolNumber(payload) else {
            if options.reconnect && (reconnection.noticeIfReconnect(payload, client: i) || reconnection.noticeIfSubscribed(payload, client: i)) {
                return
            }
            // An ack or an error: errors are counted, acks ignored.
            if payload.count > 15, payload[9] == UInt8(ascii: "e") { counters.errors += 1 }
            return
        }
        counters.bytes &+= UInt64(payload.count)
        if number < symbolSeen.count { symbolSeen[number] = true }
        let arrived = loop.now
        if measuring && state[i].lastUpdateAt != 0 { counters.longestGap = max(counters.longestGap, arrived &- state[i].lastUpdateAt) }
        state[i].lastUpdateAt = arrived
        guard state[i].wantsV2 else {
            counters.messagesV1 &+= 1
            return
        }
        counters.messagesV2 &+= 1
        guard let (seq, ts) = UpdateScanner.seqAndTimestamp(payload) else { return }
        // Which of this connection's subscriptions it is.
        if let k = options.layout.slot(of: number, connection: i) {
            let last = state[i].lastSeq[k]
            if options.reconnect && reconnection.awaitingSnapshot[i][k] {
                reconnection.snapshot(client: i, subscription: k, seq: seq, last: last, now: arrived)
            } else if last != 0 && seq != last + 1 && seq > last {
                if options.maxRate != nil {
                    counters.capped &+= seq - last - 1
                } else {
                    counters.gaps &+= 1
                    counters.missed &+= seq - last - 1
                }
            }
            state[i].lastSeq[k] = seq
        }
        let now = WallClock.microsecondsSinceEpoch()
        let micros = UInt64(max(0, now - ts))
        secondLatency.record(micros)
        if measuring { latency.record(micros) }
    }

    func clientDidClose(_ client: WebSocketClient, closeCode: CloseCode?, error: String?) {
        let i = client.index
        if client.didOpen {
            counters.open -= 1
            if !finishing && options.reconnect {
                // A deploy: come back after the wait the server asked for, as a client must.
                let wait = reconnection.connectionEnded(client: i, closeCode: closeCode, now: MonotonicClock.now())
                clients[i] = nil
                state[i].attempts = 0
                loop.schedule(after: wait) { self.dial(i) }  // strong: a weak capture slows every retain
            } else if !finishing {
                counters.unexpectedCloses += 1
                if !options.quiet { print("connection \(i) closed: \(client.closeDescription(code: closeCode, error: error))") }
            }
        } else {
            dialFailed(i, reason: error ?? "closed during handshake")
        }
    }

    private var finishing = false

    // MARK: Running

    struct Report {
        var seconds: Double
        var messages: UInt64
        var messagesV1: UInt64
        var messagesV2: UInt64
        var bytes: UInt64
        /// Bytes read off the sockets: frames as sent (compressed, encrypted), headers and all.
        var wireBytes: UInt64
        var capped: UInt64
        var gaps: UInt64
        var missed: UInt64
        /// Longest time any client went without an update, in milliseconds.
        var longestGapMilliseconds: Double
        var open: Int
        /// Milliseconds from the first dial until every connection was open; nil if never.
        var allOpenMilliseconds: Double?
        var failedDials: Int
        var unexpectedCloses: Int
        var protocolMismatches: Int
        var errors: Int
        var latency: Histogram<UInt64>
        /// Reads that returned bytes, over every client: messages / reads says how many
        /// messages the gateway put in each write (1 per read means 1 write per delivery).
        var reads: UInt64
        var loadtestCPU: Double
        var gatewayCPU: Double?
        var perSecond: [(t: Double, rate: Double, p99: UInt64)]
        /// With --publish-rate: updates published so far, error replies, and why the feed
        /// connection ended if it did.
        var publisher: (published: UInt64, errors: Int, failure: String?)?
        /// With --reconnect: how the clients came back through the deploy.
        var reconnection: ReconnectTracker?
        /// With --during: the command's exit status.
        var duringStatus: Int32?

        var rate: Double { Double(messages) / seconds }
        var messagesPerRead: Double { reads > 0 ? Double(messages) / Double(reads) : 0 }
        var wireBytesPerDelivery: Double { messages > 0 ? Double(wireBytes) / Double(messages) : 0 }
    }

    /// Connects everything and runs the warm-up.
    func start() {
        if options.publishRate > 0, let token = options.publisherToken {
            publisher = FeedPublisher(loop: loop, target: options.target, token: token, rate: options.publishRate,
                                      symbols: options.symbols, depth: max(options.depth, 1), tls: options.tls)
            publisher?.start()
        }
        startedAt = MonotonicClock.now()
        startDialing()
        nextTick = startedAt + 1_000_000_000
        runUntil(startedAt + UInt64(options.warmup * 1e9))
    }

    /// Changes the publisher's rate (ramp steps).
    func setPublishRate(_ rate: Int) { publisher?.setRate(rate) }

    private var startedAt: UInt64 = 0
    /// Milliseconds from the first dial until every connection was open (the first time).
    private var allOpenAfter: Double?
    private var nextTick: UInt64 = 0
    private var lastCounters = Counters()
    private var perSecond: [(t: Double, rate: Double, p99: UInt64)] = []

    /// --during: a shell command started in the middle of the measured window (a deploy), its
    /// start time, and once it ended, its exit status.
    private var during: (command: String, at: UInt64)?
    private var duringPID: pid_t = 0
    private(set) var duringStatus: Int32?

    private func superviseDuring(_ now: UInt64) {
        guard let during else { return }
        if duringPID == 0 && now >= during.at {
            // posix_spawn and waitpid(WNOHANG): polled from the loop, no thread, no signal handler.
            var arguments: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sh"), strdup("-c"), strdup(during.command), nil]
            defer { for argument in arguments { free(argument) } }
            var pid: pid_t = 0
            let result = posix_spawn(&pid, "/bin/sh", nil, nil, &arguments, environ)
            guard result == 0 else {
                print("during: could not start: \(String(cString: strerror(result)))")
                duringStatus = -1
                return
            }
            duringPID = pid
            print("during: started: \(during.command)")
        } else if duringPID > 0 && duringStatus == nil {
            var status: Int32 = 0
            guard waitpid(duringPID, &status, WNOHANG) == duringPID else { return }
            // WIFEXITED/WEXITSTATUS by hand (macros do not import): a signal shows as 128 + its number.
            duringStatus = status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
            print("during: exited \(duringStatus!)")
        }
    }

    /// Runs the loop until `deadline`, printing a line per second.
    private func runUntil(_ deadline: UInt64) {
        while true {
            loop.runOnce(maxWait: 5)
            let now = MonotonicClock.now()
            superviseDuring(now)
            if now >= nextTick {
                nextTick += 1_000_000_000
                let elapsed = Double(now - startedAt) / 1e9
                let messages = (counters.messagesV1 + counters.messagesV2) - (lastCounters.messagesV1 + lastCounters.messagesV2)
                let p99 = secondLatency.totalCount > 0 ? secondLatency.valueAtPercentile(99.0) : 0
                if measuring { perSecond.append((elapsed, Double(messages), p99)) }
                if !options.quiet {
                    print(String(format: "t=%5.1fs  msgs/s=%9.0f  p99=%7.3fms  conns=%5d  gaps=%llu  failed=%d%@",
                                 elapsed, Double(messages), Double(p99) / 1000, counters.open, counters.gaps,
                                 counters.failedDials, measuring ? "" : "  (warm-up)"))
                }
                secondLatency.reset()
                lastCounters = counters
            }
            if now >= deadline { return }
        }
    }

    /// Measures a window of `seconds`. With `during`, runs that command `after` seconds into
    /// the window and, if it outlives the window, keeps the clients running until it ends.
    func measure(seconds duration: Double, during command: String? = nil, after: Double = 0) -> Report {
        if let command { during = (command, MonotonicClock.now() + UInt64(after * 1e9)) }
        measuring = true
        latency.reset()
        counters.longestGap = 0
        let begin = (counters: counters, client: CPUSample.ownProcess(), gateway: options.gatewayPID.flatMap(CPUSample.process),
                     time: MonotonicClock.now(), perSecondCount: perSecond.count, reads: loop.statistics.reads,
                     wireBytes: loop.statistics.bytesRead)
        runUntil(begin.time + UInt64(duration * 1e9))
        while during != nil && duringStatus == nil {  // a deploy outlasting the window: let it finish
            runUntil(MonotonicClock.now() + 100_000_000)
        }
        let clientEnd = CPUSample.ownProcess()
        let gatewayEnd = options.gatewayPID.flatMap(CPUSample.process)
        let seconds = Double(MonotonicClock.now() - begin.time) / 1e9
        let v1 = counters.messagesV1 - begin.counters.messagesV1
        let v2 = counters.messagesV2 - begin.counters.messagesV2
        var gatewayCPU: Double?
        if let a = begin.gateway, let b = gatewayEnd { gatewayCPU = CPUSample.utilisation(from: a, to: b) }
        return Report(seconds: seconds, messages: v1 + v2, messagesV1: v1, messagesV2: v2,
                      bytes: counters.bytes - begin.counters.bytes, wireBytes: loop.statistics.bytesRead - begin.wireBytes,
                      capped: counters.capped - begin.counters.capped, gaps: counters.gaps - begin.counters.gaps,
                      missed: counters.missed - begin.counters.missed, longestGapMilliseconds: Double(counters.longestGap) / 1e6,
                      open: counters.open, allOpenMilliseconds: allOpenAfter,
                      failedDials: counters.failedDials, unexpectedCloses: counters.unexpectedCloses,
                      protocolMismatches: counters.protocolMismatches, errors: counters.errors,
                      latency: latency, reads: loop.statistics.reads - begin.reads, loadtestCPU: CPUSample.utilisation(from: begin.client, to: clientEnd),
                      gatewayCPU: gatewayCPU, perSecond: Array(perSecond[begin.perSecondCount...]),
                      publisher: publisher.map { ($0.published, $0.errors, $0.failure) },
                      reconnection: options.reconnect ? reconnection : nil, duringStatus: duringStatus)
    }

    /// Every per-second line of the measured windows so far.
    var allSeconds: [(t: Double, rate: Double, p99: UInt64)] { perSecond }

    /// Closes every connection.
    func finish() {
        finishing = true
        publisher?.stop()
        for client in clients { client?.close() }
        for _ in 0..<50 { loop.runOnce(maxWait: 10) }
    }
}

/// SYMnnnn, zero-padded to four digits like the gateway's simulator.
func symbolName(_ number: Int) -> String {
    var digits = String(number)
    while digits.count < 4 { digits = "0" + digits }
    return "SYM" + digits
}
