import COpenSSL
import Glibc

/// TLS for dialed connections (the load test, the NATS bus): TLS 1.2+, SNI, ALPN when given,
/// the server's certificate verified against a CA file (or the system's roots) and the host
/// name unless `insecure`, and optionally our own certificate for servers that verify clients.
public final class TLSClientContext: @unchecked Sendable {
    let context: OpaquePointer
    public let insecure: Bool

    /// The flags that name each file, so an error says which one to fix.
    public struct FlagNames: Sendable {
        public var ca = "--ca", certificate = "--cert", key = "--key"
        public init(ca: String = "--ca", certificate: String = "--cert", key: String = "--key") {
            self.ca = ca
            self.certificate = certificate
            self.key = key
        }
    }

    public init(caPath: String? = nil, insecure: Bool = false, alpn: String? = "http/1.1",
                certificatePath: String? = nil, keyPath: String? = nil,
                flags: FlagNames = FlagNames()) throws(TLSConfigurationError) {
        guard let context = SSL_CTX_new(TLS_client_method()) else {
            throw TLSConfigurationError("cannot create a TLS context: \(OpenSSLErrors.drain())")
        }
        self.context = context
        self.insecure = insecure
        _ = ts_ssl_ctx_set_min_tls12(context)
        SSL_CTX_set_options(context, ts_ssl_client_options())
        _ = ts_ssl_ctx_set_mode(context, Int(SSL_MODE_RELEASE_BUFFERS))
        if let alpn {
            let protocols: [UInt8] = [UInt8(alpn.utf8.count)] + Array(alpn.utf8)
            _ = SSL_CTX_set_alpn_protos(context, protocols, UInt32(protocols.count))
        }
        // Every property is set by now, so a throw runs deinit, which frees the context.
        if let certificatePath, let keyPath {
            if let problem = TLSServerContext.unreadable(certificatePath) { throw TLSConfigurationError("\(flags.certificate) \(certificatePath): \(problem)") }
            guard SSL_CTX_use_certificate_chain_file(context, certificatePath) == 1 else {
                throw TLSConfigurationError("\(flags.certificate) \(certificatePath) is not a PEM certificate chain (\(OpenSSLErrors.drain()))")
            }
            if let problem = TLSServerContext.unreadable(keyPath) { throw TLSConfigurationError("\(flags.key) \(keyPath): \(problem)") }
            guard SSL_CTX_use_PrivateKey_file(context, keyPath, SSL_FILETYPE_PEM) == 1, SSL_CTX_check_private_key(context) == 1 else {
                throw TLSConfigurationError("\(flags.key) \(keyPath) is not an unencrypted PEM key matching \(flags.certificate) (\(OpenSSLErrors.drain()))")
            }
        }
        if insecure {
            SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
            return
        }
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        if let caPath {
            if let problem = TLSServerContext.unreadable(caPath) {
                throw TLSConfigurationError("\(flags.ca) \(caPath): \(problem)")
            }
            guard SSL_CTX_load_verify_locations(context, caPath, nil) == 1 else {
                throw TLSConfigurationError("\(flags.ca) \(caPath) is not a PEM certificate file (\(OpenSSLErrors.drain()))")
            }
        } else {
            _ = SSL_CTX_set_default_verify_paths(context)
        }
    }

    deinit { SSL_CTX_free(context) }

    /// A TLS session for a connection to `host` (a name or an IP literal, checked against the
    /// server's certificate unless insecure).
    public func makeChannel(host: String, statistics: TLSStatistics) -> TLSChannel {
        let ssl = SSL_new(context)!
        var address = in6_addr()
        let isIP = inet_pton(AF_INET, host, &address) == 1 || inet_pton(AF_INET6, host, &address) == 1
        if !isIP { _ = ts_ssl_set_sni(ssl, host) }
        if !insecure {
            let parameters = SSL_get0_param(ssl)
            if isIP {
                X509_VERIFY_PARAM_set1_ip_asc(parameters, host)
            } else {
                X509_VERIFY_PARAM_set1_host(parameters, host, 0)
            }
        }
        return TLSChannel(ssl: ssl, isClient: true, statistics: statistics)
    }
}
