import ArgumentParser
import ByteBuffers
import EventLoop
import MarketData

/// In-process fan-out cost: updates x subscribers through FanOut into per-subscriber queues,
/// no sockets. Isolates what the gateway pays per delivered message before the kernel.
struct FanOutCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fanout",
        abstract: "Measure FanOut in-process: ns and allocations per delivered message, no sockets."
    )

    @Option(help: "Subscribers (connections).")
    var subscribers = 2000
    @Option(help: "Symbols in the universe.")
    var symbols = 500
    @Option(help: "Symbols per subscriber; subscriber i takes (i*subs+k) mod symbols.")
    var subs = 10
    @Option(help: "Share of subscribers on v2 (the rest v1).")
    var v2Fraction = 0.5
    @Option(help: "v2 depth.")
    var depth = 5
    @Option(help: "Updates to publish (round-robin over the symbols).")
    var updates = 200_000
    @Flag(help: "v2 subscribers take deltas: with --subscribers 1 --v2-fraction 1, the difference in ns per update against a run without is what computing a delta costs.")
    var delta = false

    func run() throws {
        // The gateway's own market-data core, so this measures the wiring it runs.
        let service = MarketDataService(maxSubscriptions: subs, maxSymbols: symbols)
        var market = service.simulatedMarket(symbols: SimulatedMarket.generatedSymbols(count: symbols))
        let queues = (0..<subscribers).map { _ in QueueSubscriber() }
        let v2Count = Int(Double(subscribers) * v2Fraction)
        for (i, subscriber) in queues.enumerated() {
            let variant: ProtocolVariant = i < v2Count ? .v2(depth: depth, delta: delta) : .v1
            for k in 0..<subs { service.registry.subscribe(subscriber, to: SymbolID((i * subs + k) % symbols), variant: variant) }
        }
        let fanOut = service.fanOut
        // Warm up: every symbol has a book and queues have their capacity.
        for _ in 0..<symbols * 2 { service.stepSimulator(&market, timestamp: 1) }
        for queue in queues { queue.drain() }
        let startDeliveries = fanOut.deliveries
        let startEncodings = fanOut.encodings
        let cpuStart = CPUSample.ownProcess()
        var batch = 0
        for _ in 0..<updates {
            service.stepSimulator(&market, timestamp: 1)
            batch += 1
            // Like a loop iteration: the writer takes everything queued, then queues refill.
            if batch == 1000 {
                for queue in queues { queue.drain() }
                batch = 0
            }
        }
        let cpuEnd = CPUSample.ownProcess()
        let deliveries = fanOut.deliveries - startDeliveries
        let encodings = fanOut.encodings - startEncodings
        let seconds = cpuEnd.cpuSeconds - cpuStart.cpuSeconds
        print("fanout: \(updates) updates -> \(deliveries) deliveries, \(encodings) encodings "
              + "(\(String(format: "%.2f", Double(encodings) / Double(updates))) per update)")
        print(String(format: "fanout: %.1f ns CPU per delivered message (includes the simulator step), %.1f M deliveries per CPU-second",
                     seconds * 1e9 / Double(deliveries), Double(deliveries) / seconds / 1e6))
        print(String(format: "fanout: %.1f ns CPU per update; %llu deltas, %llu whole states to delta subscribers",
                     seconds * 1e9 / Double(updates), fanOut.deltaEncodings, fanOut.deltaFallbacks))
    }
}

/// Stands in for a connection: keeps the references it is handed, like an outbound queue.
final class QueueSubscriber: Subscriber {
    private var queued: [SharedBytes] = []

    override init() {
        super.init()
        queued.reserveCapacity(256)
    }

    override func deliver(_ frame: SharedBytes, symbol: SymbolID) { queued.append(frame) }

    func drain() { queued.removeAll(keepingCapacity: true) }
}
