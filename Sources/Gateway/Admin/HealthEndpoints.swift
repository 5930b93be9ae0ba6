import EventLoop
import Glibc
import HTTP

/// `/health/live` and `/health/ready`, on the same port as /ws.
enum HealthEndpoints {
    static func register(on router: Router, gateway: Gateway) {
        // Served by the loop itself: if the loop is stuck, this does not answer, which is
        // exactly what a liveness probe should see.
        router.addHTTP("/health/live", methods: ["GET", "HEAD"]) { _, _ in
            HTTPResponse(status: .ok, contentType: "application/json", body: "{\"live\":true,\"pid\":\(getpid())}\n")
        }
        router.addHTTP("/health/ready", methods: ["GET", "HEAD"]) { [unowned(unsafe) gateway] _, _ in
            readiness(gateway)
        }
    }

    /// 200 only when the gateway can serve: listening, not draining, feed healthy, loop lag
    /// under the bound. Otherwise 503 naming the failing checks.
    static func readiness(_ gateway: Gateway) -> HTTPResponse {
        var checks: [(String, Bool, String)] = []
        let listening = gateway.isListening
        checks.append(("listener", listening, listening ? "listening" : "not listening"))
        checks.append(("draining", !gateway.drain.isDraining, gateway.drain.isDraining ? "draining (\(gateway.drain.phase.rawValue))" : "serving"))
        checks.append(feedCheck(gateway))
        let lag = gateway.loop.statistics.lastLag
        let lagOK = Double(lag) / 1e9 <= gateway.configuration.maxLoopLag
        checks.append(("event_loop", lagOK, "lag \(lag / 1000) us"))
        let ready = checks.allSatisfy(\.1)
        var body = "{\"ready\":\(ready),\"checks\":{"
        body += checks.map { "\"\($0.0)\":{\"ok\":\($0.1),\"detail\":\"\($0.2)\"}" }.joined(separator: ",")
        body += "}"
        if !ready { body += ",\"failing\":[" + checks.filter { !$0.1 }.map { "\"\($0.0)\"" }.joined(separator: ",") + "]" }
        body += "}\n"
        return HTTPResponse(status: ready ? .ok : .serviceUnavailable, contentType: "application/json", body: body)
    }

    private static func feedCheck(_ gateway: Gateway) -> (String, Bool, String) {
        let configuration = gateway.configuration
        if configuration.requireFeed {
            guard let last = gateway.marketData.lastFeedUpdate else { return ("feed", false, "no update received on /feed yet") }
            let age = Double(gateway.loop.now &- last) / 1e9
            let fresh = age <= configuration.feedStaleAfter
            let ageMilliseconds = Int(age * 1000)
            return ("feed", fresh, fresh ? "last update \(ageMilliseconds) ms ago"
                                          : "stale: last update \(ageMilliseconds) ms ago, limit \(configuration.feedStaleAfter) s")
        }
        if let simulator = gateway.simulator {
            return ("feed", simulator.isRunning, simulator.isRunning ? "simulator running" : "simulator stopped")
        }
        return ("feed", true, "no feed required")
    }
}
