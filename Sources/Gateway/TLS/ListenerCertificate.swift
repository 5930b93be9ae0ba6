import Glibc
import TLS

/// The listener's certificate and key: loaded at start, replaced on SIGHUP or
/// `POST /admin/reload-tls` by reading the same files again (certbot and cert-manager
/// replace them in place). New handshakes use the new pair; live connections keep theirs.
/// A file that cannot be used is refused and the pair in use stays: never an outage.
public final class ListenerCertificate {
    public let certificatePath: String
    public let keyPath: String
    public let keyPasswordPath: String?
    public private(set) var current: TLSServerContext
    /// Counters of every TLS connection on this listener.
    public let statistics = TLSStatistics()
    public private(set) var reloads = 0
    public private(set) var failedReloads = 0

    /// Loads the pair; a problem is an error naming the file (the gateway exits 2 with it).
    public init(certificatePath: String, keyPath: String, keyPasswordPath: String?) throws(TLSConfigurationError) {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        self.keyPasswordPath = keyPasswordPath
        current = try Self.load(certificatePath: certificatePath, keyPath: keyPath, keyPasswordPath: keyPasswordPath)
    }

    /// Reads the files again. On success new handshakes use them; on failure nothing changes.
    @discardableResult
    public func reload() -> Result<TLSServerContext, TLSConfigurationError> {
        do throws(TLSConfigurationError) {
            current = try Self.load(certificatePath: certificatePath, keyPath: keyPath, keyPasswordPath: keyPasswordPath)
            reloads += 1
            return .success(current)
        } catch {
            failedReloads += 1
            return .failure(error)
        }
    }

    /// A TLS session for a connection just accepted.
    func makeChannel() -> TLSChannel { current.makeChannel(statistics: statistics) }

    private static func load(certificatePath: String, keyPath: String, keyPasswordPath: String?) throws(TLSConfigurationError) -> TLSServerContext {
        let password = try keyPasswordPath.map { path throws(TLSConfigurationError) in try readPassword(path) }
        return try TLSServerContext(certificatePath: certificatePath, keyPath: keyPath, keyPassword: password)
    }

    /// The first line of the file, without its line ending.
    private static func readPassword(_ path: String) throws(TLSConfigurationError) -> [UInt8] {
        guard let file = fopen(path, "r") else {
            throw TLSConfigurationError("--tls-key-password-file \(path): \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        while true {
            let c = fgetc(file)
            if c == EOF || c == 0x0A || c == 0x0D { break }
            bytes.append(UInt8(c))
        }
        guard !bytes.isEmpty else { throw TLSConfigurationError("--tls-key-password-file \(path) is empty") }
        return bytes
    }
}
