import Bus
import ByteBuffers
import EventLoop
import Glibc
import HTTP
import MarketData

/// The page for people (`/`), its client (`/tickstream.js`) and the small JSON it polls
/// (`/stats`), on the public port, unless `--web off`.
enum WebEndpoints {
    static func register(on router: Router, context: GatewayContext, service: MarketDataService, bus: MarketBus?) {
        router.addHTTP("/", methods: ["GET", "HEAD"]) { _, _ in
            HTTPResponse(status: .ok, contentType: "text/html; charset=utf-8", body: IndexPage.html,
                         headers: [("Cache-Control", "no-cache")])
        }
        router.addHTTP("/tickstream.js", methods: ["GET", "HEAD"]) { _, _ in
            HTTPResponse(status: .ok, contentType: "text/javascript; charset=utf-8", body: ReferenceClientScript.source,
                         headers: [("Cache-Control", "no-cache")])
        }
        let stats = ServerStats(context: context, service: service, bus: bus)
        router.addHTTP("/stats", methods: ["GET", "HEAD"]) { _, _ in
            HTTPResponse(status: .ok, contentType: "application/json", body: stats.json(),
                         headers: [("Cache-Control", "no-store")])
        }
    }
}

/// `/stats`: what a page shows about the server (not `/metrics`, which is for Prometheus):
/// connections by protocol, deliveries per second, the drain, uptime, the bus.
final class ServerStats {
    private let context: GatewayContext
    private let service: MarketDataService
    private let bus: MarketBus?
    private let startedAt = MonotonicClock.now()
    /// Deliveries per second over the time since the previous sample (at least a second ago).
    private var sample: (at: UInt64, delivered: UInt64)
    private var rate = 0.0

    init(context: GatewayContext, service: MarketDataService, bus: MarketBus?) {
        self.context = context
        self.service = service
        self.bus = bus
        sample = (startedAt, 0)
    }

    func json() -> String {
        let now = MonotonicClock.now()
        let metrics = context.metrics
        let delivered = metrics.messagesSentV1 &+ metrics.messagesSentV2
        if now &- sample.at >= 1_000_000_000 {
            rate = Double(delivered &- sample.delivered) / (Double(now &- sample.at) / 1e9)
            sample = (now, delivered)
        }
        var body = "{\"pid\":\(getpid()),\"version\":\(JSONText.quoted(BuildInfo.version)),"
        body += "\"uptime_seconds\":\(Double((now &- startedAt) / 1_000_000) / 1000),"
        body += "\"connections\":{\"v1\":\(metrics.subscribersV1),\"v2\":\(metrics.subscribersV2)},"
        body += "\"deliveries_per_second\":\(Int(rate.rounded())),\"symbols\":\(service.servedSymbols.count),"
        body += "\"draining\":\(context.isDraining),\"drain_phase\":\"\(context.drainPhase.rawValue)\""
        if let bus {
            body += ",\"bus\":{\"connected\":\(bus.isConnected),\"subscriptions\":\(bus.subscriptionCount)}"
        }
        return body + "}\n"
    }
}
