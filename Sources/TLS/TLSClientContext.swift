import COpenSSL
import Glibc

/// TLS for dialed connections (the load test): TLS 1.2+, ALPN `http/1.1`, SNI, and the
/// server's certificate verified against `caPath` (or the system's roots) and the host name,
/// unless `insecure`.
public final class TLSClientContext: @unchecked Sendable {
    let context: OpaquePointer
    public let insecure: Bool

    public init(caPath: String? = nil, insecure: Bool = false) throws(TLSConfigurationError) {
        guard let context = SSL_CTX_new(TLS_client_method()) else {
            throw TLSConfigurationError("cannot create a TLS context: \(OpenSSLErrors.drain())")
        }
        self.context = context
        self.insecure = insecure
        _ = ts_ssl_ctx_set_min_tls12(context)
        SSL_CTX_set_options(context, ts_ssl_client_options())
        _ = ts_ssl_ctx_set_mode(context, Int(SSL_MODE_RELEASE_BUFFERS))
        let alpn: [UInt8] = [8] + Array("http/1.1".utf8)
        _ = SSL_CTX_set_alpn_protos(context, alpn, UInt32(alpn.count))
        if insecure {
            SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
            return
        }
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        if let caPath {
            // Every property is set by now, so a throw runs deinit, which frees the context.
            if let problem = TLSServerContext.unreadable(caPath) {
                throw TLSConfigurationError("--ca \(caPath): \(problem)")
            }
            guard SSL_CTX_load_verify_locations(context, caPath, nil) == 1 else {
                throw TLSConfigurationError("--ca \(caPath) is not a PEM certificate file (\(OpenSSLErrors.drain()))")
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
