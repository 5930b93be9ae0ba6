import EventLoop
import NATS

/// How an instance uses the market bus (`--bus` and its companions).
public struct BusSettings: Sendable {
    /// Which subjects an instance follows.
    public enum Following: String, Sendable, CaseIterable {
        /// `<prefix>.<SYMBOL>` while at least one client wants the symbol (and `linger` after).
        case interest
        /// `<prefix>.>`: everything, for small universes.
        case all
    }

    public var servers: [NATSServerURL]
    /// Used when a server URL carries no credentials of its own.
    public var token: String?
    /// TLS towards NATS: the CA to verify servers with, and our certificate for servers that
    /// verify clients. With `caPath`, servers that require TLS get it; `tls://` URLs demand it.
    public var caPath: String?
    public var certificatePath: String?
    public var keyPath: String?
    /// A `.creds` file (user JWT and NKEY seed) or an NKEY seed file.
    public var credentialsPath: String?
    /// Loaded from the paths above by the one who starts the bus (`BusSecurity`).
    public var credentials: NATSCredentials?
    public var makeSecurity: (@Sendable (String) -> TransportSecurity)?
    /// Subjects are `<prefix>.<SYMBOL>`.
    public var prefix = "md"
    /// The JetStream stream keeping the last message of every subject under the prefix.
    public var stream = "MD"
    /// Replicas of the stream when this instance creates it (1 for one server, 3 for a cluster).
    public var streamReplicas = 1
    /// Where the stream keeps its messages when this instance creates it: `file` (survives a
    /// NATS restart, so writers continue their `seq`) or `memory` (lower latency under load).
    public var streamStorage = StreamStorage.file

    public enum StreamStorage: String, Sendable, CaseIterable {
        case file, memory
    }
    public var following = Following.interest
    /// How long a symbol stays followed after its last client left, so churn does not flap.
    public var linger: UInt64 = 2_000_000_000
    /// Bound on a JetStream request (stream creation, a last-value fetch).
    public var requestTimeout: UInt64 = 2_000_000_000
    /// A writer that has not published a symbol for this long asks the stream for its last
    /// `seq` again before the next one: another instance may have written it meanwhile.
    public var writerIdle: UInt64 = 2_000_000_000
    /// Shown to the server (`connz`) as the client's name.
    public var clientName = "tickstream"

    public init(servers: [NATSServerURL]) {
        self.servers = servers
    }

    /// How a NATS client of this bus connects, named `name` to the servers.
    public func clientSettings(name: String) -> NATSClient.Settings {
        var settings = NATSClient.Settings(servers: servers, connect: NATSConnectOptions(name: name, token: token, credentials: credentials))
        settings.makeSecurity = makeSecurity
        return settings
    }

    /// The subject of `symbol`.
    public func subject(of symbol: String) -> String { prefix + "." + symbol }
}
