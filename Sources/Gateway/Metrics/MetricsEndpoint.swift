import Bus
import HTTP
import MarketData

/// Renders `GET /metrics`: one family of metrics per type in Families/, in this order.
enum MetricsEndpoint {
    static func register(on router: Router, context: GatewayContext, service: MarketDataService, connections: ConnectionRegistry,
                         bus: MarketBus?) {
        router.addHTTP("/metrics", methods: ["GET"]) { _, _ in
            HTTPResponse(status: .ok, contentType: "text/plain; version=0.0.4; charset=utf-8",
                         body: render(context: context, service: service, connections: connections, bus: bus))
        }
    }

    static func render(context: GatewayContext, service: MarketDataService, connections: ConnectionRegistry, bus: MarketBus? = nil) -> String {
        var out = PrometheusText()
        ConnectionMetrics.render(context: context, to: &out)
        AuthMetrics.render(context: context, to: &out)
        MarketMetrics.render(context: context, service: service, bus: bus, to: &out)
        CompressionMetrics.render(context: context, service: service, connections: connections, to: &out)
        DeployMetrics.render(context: context, to: &out)
        FlagMetrics.render(context: context, to: &out)
        TLSMetrics.render(context: context, to: &out)
        LoopMetrics.render(context: context, to: &out)
        return out.text
    }
}
