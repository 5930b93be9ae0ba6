import Bus
import EventLoop
import Glibc
import HTTP
import MarketData

/// `/health/live` and `/health/ready`, on the same port as /ws.
enum HealthEndpoints {
    /// `isListening` tells whether this instance still accepts (not handed over or released);
    /// `simulatorRunning` is nil when there is no simulator.
    static func register(on router: Router, context: GatewayContext, service: MarketDataService, bus: MarketBus? = nil,
                         isListening: @escaping () -> Bool, simulatorRunning: @escaping () -> Bool?) {
        // Served by the loop itself: if the loop is stuck, this does not answer, which is
        // exactly what a liveness probe should see.
        router.addHTTP("/health/live", methods: ["GET", "HEAD"]) { _, _ in
            HTTPResponse(status: .ok, contentType: "application/json", body: "{\"live\":true,\"pid\":\(getpid())}\n")
        }
        router.addHTTP("/health/ready", methods: ["GET", "HEAD"]) { _, _ in
            readiness(context: context, listening: isListening(),
                      feed: feedCheck(context: context, service: service, simulatorRunning: simulatorRunning()),
                      bus: bus.map(busCheck))
        }
    }

    /// Whether `/health/ready` would answer 200 now (a watched deploy's standby asks).
    static func isReady(context: GatewayContext, service: MarketDataService, bus: MarketBus?, listening: Bool,
                        simulatorRunning: Bool?) -> Bool {
        checks(context: context, listening: listening, feed: feedCheck(context: context, service: service, simulatorRunning: simulatorRunning),
               bus: bus.map(busCheck)).allSatisfy(\.1)
    }

    /// 200 only when the gateway can serve: listening, not draining, feed healthy, loop lag
    /// under the bound. Otherwise 503 naming the failing checks.
    static func readiness(context: GatewayContext, listening: Bool, feed: (String, Bool, String),
                          bus: (String, Bool, String)? = nil) -> HTTPResponse {
        let checks = checks(context: context, listening: listening, feed: feed, bus: bus)
        let ready = checks.allSatisfy(\.1)
        var body = "{\"ready\":\(ready),\"checks\":{"
        body += checks.map { "\"\($0.0)\":{\"ok\":\($0.1),\"detail\":\"\($0.2)\"}" }.joined(separator: ",")
        body += "}"
        if !ready { body += ",\"failing\":[" + checks.filter { !$0.1 }.map { "\"\($0.0)\"" }.joined(separator: ",") + "]" }
        body += "}\n"
        return HTTPResponse(status: ready ? .ok : .serviceUnavailable, contentType: "application/json", body: body)
    }

    private static func checks(context: GatewayContext, listening: Bool, feed: (String, Bool, String),
                               bus: (String, Bool, String)?) -> [(String, Bool, String)] {
        var checks: [(String, Bool, String)] = []
        checks.append(("listener", listening, listening ? "listening" : "not listening"))
        checks.append(("draining", !context.isDraining, context.isDraining ? "draining (\(context.drainPhase.rawValue))" : "serving"))
        checks.append(feed)
        if let bus { checks.append(bus) }
        let lag = context.loop.statistics.lastLag
        let lagOK = Double(lag) / 1e9 <= context.configuration.maxLoopLag
        checks.append(("event_loop", lagOK, "lag \(lag / 1000) us"))
        return checks
    }

    /// A pod that loses the bus is not ready (new clients go to pods that have data) but keeps
    /// its clients: it reconnects, fetches fresh snapshots, and they see the `seq` jump.
    private static func busCheck(_ bus: MarketBus) -> (String, Bool, String) {
        let server = bus.client.server.map { "\($0)" } ?? "?"
        guard bus.isConnected else { return ("bus", false, "not connected (trying \(server))") }
        var detail = "connected to \(server), \(bus.subscriptionCount) subscriptions"
        if let problem = bus.streamProblem { detail += "; stream: \(problem)" }
        return ("bus", true, detail)
    }

    private static func feedCheck(context: GatewayContext, service: MarketDataService, simulatorRunning: Bool?) -> (String, Bool, String) {
        let configuration = context.configuration
        if configuration.requireFeed {
            guard let last = service.lastFeedUpdate else { return ("feed", false, "no update received on /feed yet") }
            let age = Double(context.loop.now &- last) / 1e9
            let fresh = age <= configuration.feedStaleAfter
            let ageMilliseconds = Int(age * 1000)
            return ("feed", fresh, fresh ? "last update \(ageMilliseconds) ms ago"
                                          : "stale: last update \(ageMilliseconds) ms ago, limit \(configuration.feedStaleAfter) s")
        }
        if let running = simulatorRunning {
            return ("feed", running, running ? "simulator running" : "simulator stopped")
        }
        return ("feed", true, "no feed required")
    }
}
