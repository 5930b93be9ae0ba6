import EventLoop
import Glibc
import MarketData
import WebSocket

/// Publishes updates to the gateway's /feed at a paced rate, in one batch per millisecond,
/// stamping each with the time its tick was scheduled, so latency covers ingest -> fan-out ->
/// client and a late publisher does not hide its own backlog.
final class FeedPublisher: WebSocketClientDelegate {
    private let loop: EventLoop
    private let client: WebSocketClient
    private var rate: Int
    private var pacing: TickSchedule
    private let symbols: Int
    private let depth: Int
    private var timer: Timer?
    private var startedAt: UInt64 = 0
    private var sent: UInt64 = 0
    private var stopping = false
    private static let tick: UInt64 = 1_000_000
    /// Batches are split below the gateway's default 64 KiB message limit, whatever the depth
    /// or the catch-up after a busy moment (dialing thousands of clients, say).
    private static let maxBatchBytes = 32 * 1024
    private var nextSymbol = 0
    private var prices: [Int64]
    private var random = SplitMix64(seed: 42)
    private(set) var published: UInt64 = 0
    /// Error replies from the gateway (it answers a publisher with nothing else).
    private(set) var errors = 0
    /// Why the feed connection ended, when it ended before `stop()`.
    private(set) var failure: String?

    init(loop: EventLoop, target: WebSocketURL, token: String, rate: Int, symbols: Int, depth: Int, tls: ClientTLS?) {
        self.loop = loop
        self.rate = rate
        self.pacing = TickSchedule(rate: max(rate, 1), tick: Self.tick)
        self.symbols = symbols
        self.depth = depth
        prices = (0..<symbols).map { Int64(2000 + ($0 * 37) % 48000) }  // cents
        let feedURL = WebSocketURL("\(target.scheme)://\(target.hostHeader)/feed")!
        client = WebSocketClient(loop: loop, target: feedURL, index: -1, subprotocols: ["feed.v1"],
                                 extraHeaders: [("Authorization", "Bearer \(token)")], tls: tls)
        client.delegate = self
    }

    func start() {
        do { try client.start() } catch { failure = "\(error)" }
    }

    /// Changes the rate from now on.
    func setRate(_ newRate: Int) {
        rate = newRate
        pacing = TickSchedule(rate: max(newRate, 1), tick: Self.tick)
        startedAt = MonotonicClock.now()
        sent = 0
    }

    func stop() {
        stopping = true
        timer?.cancel()
        client.close()
    }

    func clientDidOpen(_ client: WebSocketClient, subprotocol: String?) {
        startedAt = MonotonicClock.now()
        // Repeating, so ticks keep their cadence and each update's scheduled tick is known.
        timer = loop.scheduleRepeating(every: Self.tick) { self.tick() }  // strong: a weak capture slows every retain
    }

    private func tick() {
        guard rate > 0 else { return }
        let now = MonotonicClock.now()
        let elapsed = now - startedAt
        // Whole ticks' worth, as the gateway's simulator sends: the same updates share a batch.
        let phase = pacing.phase(ofFiringScheduledAt: (timer?.deadline ?? now) &- startedAt)
        let due = pacing.dueByLastTick(at: elapsed, phase: phase)
        sent = pacing.resumePoint(sent: sent, due: due)
        guard due > sent else { return }
        let wallNow = WallClock.microsecondsSinceEpoch()
        var batch = "["
        while sent < due {
            if batch.utf8.count > 1 { batch += "," }
            batch += update(ts: pacing.timestamp(ofUpdate: sent, phase: phase, elapsed: elapsed, wallNow: wallNow))
            sent += 1
            published += 1
            if batch.utf8.count >= Self.maxBatchBytes {
                send(batch + "]")
                batch = "["
            }
        }
        if batch.utf8.count > 1 { send(batch + "]") }
    }

    private func send(_ batch: String) {
        Array(batch.utf8).withUnsafeBytes { client.send(opcode: .text, payload: $0) }
    }

    private func update(ts: Int64) -> String {
        let i = nextSymbol
        nextSymbol = (nextSymbol + 1) % symbols
        prices[i] = max(100, prices[i] + Int64(random.next() % 3) - 1)
        let bid = prices[i] - 1, ask = prices[i] + 1
        var book = ""
        for level in 0..<depth {
            if level > 0 { book += "," }
            book += "[\(cents(bid - Int64(level))),\(100 * (level + 1)),\(cents(ask + Int64(level))),\(100 * (level + 2))]"
        }
        return #"{"symbol":"\#(symbolName(i))","last":\#(cents(prices[i])),"bid":\#(cents(bid)),"ask":\#(cents(ask)),"book":[\#(book)],"ts":\#(ts)}"#
    }

    private func cents(_ value: Int64) -> String {
        let fraction = value % 100
        return "\(value / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }

    func client(_ client: WebSocketClient, didReceive opcode: Opcode, payload: UnsafeRawBufferPointer) {
        errors += 1  // the gateway only ever answers a publisher with errors
    }

    func clientDidClose(_ client: WebSocketClient, closeCode: CloseCode?, error: String?) {
        timer?.cancel()
        if !stopping && failure == nil {
            failure = "feed connection closed: " + client.closeDescription(code: closeCode, error: error)
        }
    }
}
