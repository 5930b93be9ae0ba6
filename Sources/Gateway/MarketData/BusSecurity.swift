import Bus
import NATS
import TLS

/// TLS and credentials towards NATS, loaded from `--bus-ca`, `--bus-cert`, `--bus-key` and
/// `--bus-creds`. Validation loads them too, so a missing or unreadable file stops the start
/// (exit 2) naming the flag and the path, never the file's contents.
enum BusSecurity {
    static func prepared(_ settings: BusSettings) throws(SettingError) -> BusSettings {
        var prepared = settings
        if let path = settings.credentialsPath {
            switch NATSCredentials.load(path: path) {
            case .success(let credentials): prepared.credentials = credentials
            case .failure(let error): throw SettingError(setting: "bus-creds", "--bus-creds \(error.description)")
            }
        }
        let wantsTLS = settings.caPath != nil || settings.certificatePath != nil || settings.servers.contains(where: \.tls)
        if wantsTLS {
            let context: TLSClientContext
            do {
                context = try TLSClientContext(caPath: settings.caPath, alpn: nil, certificatePath: settings.certificatePath,
                                               keyPath: settings.keyPath,
                                               flags: .init(ca: "--bus-ca", certificate: "--bus-cert", key: "--bus-key"))
            } catch {
                throw SettingError(setting: settings.caPath != nil ? "bus-ca" : "bus-cert", error.description)
            }
            let statistics = TLSStatistics()
            // The closure is only called on the bus client's loop thread, which also owns the
            // statistics; the context itself is thread-safe.
            nonisolated(unsafe) let shared = (context, statistics)
            prepared.makeSecurity = { host in shared.0.makeChannel(host: host, statistics: shared.1) }
        }
        return prepared
    }
}
