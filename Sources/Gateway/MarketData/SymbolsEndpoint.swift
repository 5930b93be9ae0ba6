import HTTP
import MarketData

/// `GET /symbols`: `{"count":N,"symbols":[...]}`, the symbols served (those with data), sorted.
enum SymbolsEndpoint {
    static func register(on router: Router, service: MarketDataService) {
        router.addHTTP("/symbols", methods: ["GET", "HEAD"]) { _, _ in
            let served = service.servedSymbols
            var writer = ByteWriter(capacity: 64 + served.count * 12)
            writer.write("{\"count\":")
            writer.write(served.count)
            writer.write(",\"symbols\":")
            ServerMessages.symbolArray(served, to: &writer)
            writer.write("}\n")
            return HTTPResponse(status: .ok, contentType: "application/json", body: writer.string)
        }
    }
}
