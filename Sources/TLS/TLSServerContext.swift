import COpenSSL
import Glibc

/// A loaded certificate chain and key for the listener: TLS 1.2 and 1.3 only, the server's
/// cipher order, no renegotiation, ALPN `http/1.1`, and OpenSSL's buffers released while a
/// connection is idle. Immutable: a rotation loads a new context and new handshakes use it,
/// while live connections keep the one they started with (OpenSSL counts its references).
public final class TLSServerContext: @unchecked Sendable {
    let context: OpaquePointer
    public let certificatePath: String
    public let keyPath: String
    /// The leaf certificate's validity, as Unix seconds.
    public let notBefore: Int64
    public let notAfter: Int64
    /// The leaf certificate's subject, for logs.
    public let subject: String

    /// Loads and checks everything a handshake needs, so that a bad file is found here and
    /// never by a client: the chain, the key (decrypted with `keyPassword` when it is
    /// encrypted), that they match, and that the certificate is valid at `now`.
    public init(certificatePath: String, keyPath: String, keyPassword: [UInt8]? = nil,
                now: Int64 = Int64(time(nil))) throws(TLSConfigurationError) {
        let loaded = try Self.load(certificatePath: certificatePath, keyPath: keyPath, keyPassword: keyPassword, now: now)
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        context = loaded.context
        notBefore = loaded.notBefore
        notAfter = loaded.notAfter
        subject = loaded.subject
    }

    /// Builds the SSL_CTX, freeing it on any failure (an init that throws after setting every
    /// property would run deinit too, and free it twice).
    private static func load(certificatePath: String, keyPath: String, keyPassword: [UInt8]?, now: Int64) throws(TLSConfigurationError)
        -> (context: OpaquePointer, notBefore: Int64, notAfter: Int64, subject: String) {
        guard let context = SSL_CTX_new(TLS_server_method()) else {
            throw TLSConfigurationError("cannot create a TLS context: \(OpenSSLErrors.drain())")
        }
        do throws(TLSConfigurationError) {
            try applyDefaults(context)
            try loadCertificate(context, path: certificatePath)
            try loadKey(context, path: keyPath, password: keyPassword, certificatePath: certificatePath)
            guard SSL_CTX_check_private_key(context) == 1 else {
                _ = OpenSSLErrors.drain()
                throw TLSConfigurationError("--tls-key \(keyPath) does not match the certificate in --tls-cert \(certificatePath)")
            }
            guard let leaf = SSL_CTX_get0_certificate(context) else {
                throw TLSConfigurationError("--tls-cert \(certificatePath) holds no certificate")
            }
            let notBefore = ts_x509_not_before_unix(leaf)
            let notAfter = ts_x509_not_after_unix(leaf)
            let subject = subjectLine(leaf)
            if notAfter < now {
                throw TLSConfigurationError("--tls-cert \(certificatePath) expired on \(formatDate(notAfter)) (\(subject))")
            }
            if notBefore > now {
                throw TLSConfigurationError("--tls-cert \(certificatePath) is not valid before \(formatDate(notBefore)) (\(subject))")
            }
            return (context, notBefore, notAfter, subject)
        } catch {
            SSL_CTX_free(context)
            throw error
        }
    }

    deinit { SSL_CTX_free(context) }

    /// A TLS session for an accepted connection.
    public func makeChannel(statistics: TLSStatistics) -> TLSChannel {
        TLSChannel(ssl: SSL_new(context)!, isClient: false, statistics: statistics)
    }

    private static func applyDefaults(_ context: OpaquePointer) throws(TLSConfigurationError) {
        guard ts_ssl_ctx_set_min_tls12(context) == 1 else {
            throw TLSConfigurationError("cannot require TLS 1.2: \(OpenSSLErrors.drain())")
        }
        SSL_CTX_set_options(context, ts_ssl_server_options())
        _ = ts_ssl_ctx_set_mode(context, Int(SSL_MODE_RELEASE_BUFFERS))
        SSL_CTX_set_alpn_select_cb(context, selectALPN, nil)
    }

    private static func loadCertificate(_ context: OpaquePointer, path: String) throws(TLSConfigurationError) {
        if let problem = unreadable(path) { throw TLSConfigurationError("--tls-cert \(path): \(problem)") }
        guard SSL_CTX_use_certificate_chain_file(context, path) == 1 else {
            throw TLSConfigurationError("--tls-cert \(path) is not a PEM certificate chain (\(OpenSSLErrors.drain()))")
        }
    }

    private static func loadKey(_ context: OpaquePointer, path: String, password: [UInt8]?, certificatePath: String) throws(TLSConfigurationError) {
        if let problem = unreadable(path) { throw TLSConfigurationError("--tls-key \(path): \(problem)") }
        let encrypted = fileMentions(path, "ENCRYPTED")
        if encrypted && password == nil {
            throw TLSConfigurationError("--tls-key \(path) is encrypted: give its password with --tls-key-password-file")
        }
        // The password callback reads it from here; without one OpenSSL would prompt on a terminal.
        var secret = (password ?? []) + [0]
        let loaded = secret.withUnsafeMutableBytes { bytes -> Int32 in
            SSL_CTX_set_default_passwd_cb(context, passwordCallback)
            SSL_CTX_set_default_passwd_cb_userdata(context, bytes.baseAddress)
            defer { SSL_CTX_set_default_passwd_cb_userdata(context, nil) }
            return SSL_CTX_use_PrivateKey_file(context, path, SSL_FILETYPE_PEM)
        }
        for i in secret.indices { secret[i] = 0 }
        guard loaded == 1 else {
            let (reason, detail) = OpenSSLErrors.lastReason()
            if reason == X509_R_KEY_VALUES_MISMATCH {
                throw TLSConfigurationError("--tls-key \(path) does not match the certificate in --tls-cert \(certificatePath)")
            }
            if encrypted { throw TLSConfigurationError("--tls-key \(path): wrong password in --tls-key-password-file (\(detail))") }
            throw TLSConfigurationError("--tls-key \(path) is not a PEM private key (\(detail))")
        }
    }

    /// Why `path` cannot be read, or nil.
    static func unreadable(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return String(cString: strerror(errno)) }
        close(fd)
        return nil
    }

    private static func fileMentions(_ path: String, _ word: String) -> Bool {
        guard let file = fopen(path, "r") else { return false }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 512)
        while fgets(&line, Int32(line.count), file) != nil {
            if line.withUnsafeBufferPointer({ String(cString: $0.baseAddress!) }).contains(word) { return true }
        }
        return false
    }

    private static func subjectLine(_ certificate: OpaquePointer) -> String {
        guard let name = X509_get_subject_name(certificate) else { return "?" }
        var buffer = [CChar](repeating: 0, count: 256)
        X509_NAME_oneline(name, &buffer, Int32(buffer.count))
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// "2027-01-26 10:20:29 UTC", for logs and messages.
    public static func formatDate(_ seconds: Int64) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        var buffer = [CChar](repeating: 0, count: 32)
        strftime(&buffer, buffer.count, "%Y-%m-%d %H:%M:%S UTC", &parts)
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}

/// ALPN: `http/1.1` when the client offers it; a client that offers only other protocols
/// (h2 alone) cannot talk to us, and RFC 7301 says to refuse it with an alert.
private let selectALPN: @convention(c) (OpaquePointer?, UnsafeMutablePointer<UnsafePointer<UInt8>?>?, UnsafeMutablePointer<UInt8>?,
                                        UnsafePointer<UInt8>?, UInt32, UnsafeMutableRawPointer?) -> Int32 = { _, out, outLength, offered, offeredLength, _ in
    guard let offered else { return SSL_TLSEXT_ERR_NOACK }
    let wanted: [UInt8] = Array("http/1.1".utf8)
    var index = 0
    while index < Int(offeredLength) {
        let length = Int(offered[index])
        let start = index + 1
        guard start + length <= Int(offeredLength) else { break }
        if length == wanted.count && (0..<length).allSatisfy({ offered[start + $0] == wanted[$0] }) {
            out?.pointee = offered + start
            outLength?.pointee = UInt8(length)
            return SSL_TLSEXT_ERR_OK
        }
        index = start + length
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL
}

private let passwordCallback: @convention(c) (UnsafeMutablePointer<CChar>?, Int32, Int32, UnsafeMutableRawPointer?) -> Int32 = { buffer, size, _, userdata in
    guard let buffer, let userdata else { return 0 }
    let password = userdata.assumingMemoryBound(to: CChar.self)
    let length = Int32(strlen(password))
    guard length > 0, length < size else { return 0 }
    memcpy(buffer, password, Int(length))
    return length
}
