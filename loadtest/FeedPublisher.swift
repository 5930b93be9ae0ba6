import EventLoop
import Glibc
import MarketData
import WebSocket

/// Publishes updates to the gateway's /feed at a paced rate, in one batch per millisecond,
/// stamping each with the current time so latency covers ingest -> fan-out -> client.
final class FeedPublisher: WebSocketClientDelegate {
    private let loop: EventLoop
    private let client: WebSocketClient
    private var rate: Int
    private let symbols: Int
    private let depth: Int
    private var timer: Timer?
    private var startedAt: UInt64 = 0
    private var sent: UInt64 = 0
    private var nextSymbol = 0
    private var prices: [Int64]
    private var random = SplitMix64(seed: 42)
    private(set) var published: UInt64 = 0
    private(set) var errors = 0

    init(loop: EventLoop, target: WebSocketURL, token: String, rate: Int, symbols: Int, depth: Int) {
        self.loop = loop
        self.rate = rate
        self.symbols = symbols
        self.depth = depth
        prices = (0..<symbols).map { Int64(2000 + ($0 * 37) % 48000) }  // cents
        let feedURL = WebSocketURL("ws://\(target.hostHeader)/feed")!
        client = WebSocketClient(loop: loop, target: feedURL, index: -1, subprotocols: ["feed.v1"],
                                 extraHeaders: [("Authorization", "Bearer \(token)")])
        client.delegate = self
    }

    func start() {
        do { try client.start() } catch { print("publisher: \(error)") }
    }

    /// Changes the rate from now on.
    func setRate(_ newRate: Int) {
        rate = newRate
        startedAt = MonotonicClock.now()
        sent = 0
    }

    func stop() {
        timer?.cancel()
        client.close()
    }

    func clientDidOpen(_ client: WebSocketClient, subprotocol: String?) {
        startedAt = MonotonicClock.now()
        tick()
    }

    private func tick() {
        let elapsed = MonotonicClock.now() - startedAt
        let due = UInt64(Double(elapsed) / 1e9 * Double(rate))
        if due > sent + UInt64(max(1, rate / 20)) { sent = due - UInt64(max(1, rate / 20)) }  // no bursts after a stall
        if due > sent {
            var batch = "["
            let ts = WallClock.microsecondsSinceEpoch()
            for n in 0..<Int(due - sent) {
                if n > 0 { batch += "," }
                batch += update(ts: ts)
            }
            batch += "]"
            Array(batch.utf8).withUnsafeBytes { client.send(opcode: .text, payload: $0) }
            published += due - sent
            sent = due
        }
        timer = loop.schedule(after: 1_000_000) { self.tick() }  // strong: a weak capture slows every retain
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
    }
}
