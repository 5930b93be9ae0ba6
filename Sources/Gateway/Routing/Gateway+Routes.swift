import Bus
import MarketData

/// Every route, each registered by its endpoint: the public port serves market data (and the
/// page); health, metrics and admin go where operators reach them, the admin listener if there
/// is one, else the public port.
extension Gateway {
    func registerRoutes(service: MarketDataService, bus: MarketBus?) {
        marketEndpoint.register(on: router)
        if let token = configuration.publisherToken {
            FeedEndpoint.register(on: router, token: token, context: context, service: service, bus: bus)
        }
        if configuration.echo { EchoEndpoint.register(on: router, maxMessageBytes: configuration.echoMaxMessageBytes) }
        SymbolsEndpoint.register(on: router, service: service)
        if configuration.web { WebEndpoints.register(on: router, context: context, service: service, bus: bus) }
        let operations = adminRouter ?? router
        HealthEndpoints.register(on: operations, context: context, service: service, bus: bus,
                                 isListening: { [unowned self] in self.isListening },
                                 simulatorRunning: { [unowned self] in self.simulator?.isRunning })
        MetricsEndpoint.register(on: operations, context: context, service: service, connections: connections, bus: bus)
        if let token = configuration.adminToken {
            AdminEndpoints.register(on: operations, token: token, drain: drain,
                                    reloadCertificate: { [unowned self] in self.reloadCertificate(trigger: "POST /admin/reload-tls") },
                                    reloadFlags: { [unowned self] in self.reloadFlags(trigger: "POST /admin/reload-flags") })
        }
    }
}
