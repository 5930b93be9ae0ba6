import ArgumentParser
import TLS

/// TLS for wss:// targets: how the gateway's certificate is checked, and one set of counters
/// for every connection of the run.
final class ClientTLS {
    let context: TLSClientContext
    let statistics = TLSStatistics()

    init(context: TLSClientContext) {
        self.context = context
    }

    /// A TLS session for one connection to `target`.
    func makeChannel(for target: WebSocketURL) -> TLSChannel {
        context.makeChannel(host: target.host, statistics: statistics)
    }
}

/// `--insecure` and `--ca`, for every subcommand that dials.
struct TLSClientOptions: ParsableArguments {
    @Flag(help: "wss://: do not verify the gateway's certificate (self-signed demos).")
    var insecure = false
    @Option(help: ArgumentHelp("wss://: trust the CA certificates in this PEM file instead of the system's.", valueName: "pem"))
    var ca: String?

    /// The TLS to use for `url`: nil for ws://. Throws when --ca cannot be used.
    func make(for url: WebSocketURL) throws -> ClientTLS? {
        guard url.secure else { return nil }
        do {
            return ClientTLS(context: try TLSClientContext(caPath: ca, insecure: insecure))
        } catch {
            throw ValidationError(error.description)
        }
    }
}
