import COpenSSL
import EventLoop

/// One connection's TLS session, driven by its `StreamSocket` (see `TransportSecurity`).
/// Created by a `TLSServerContext` for accepted sockets or a `TLSClientContext` for dialed ones.
public final class TLSChannel: TransportSecurity {
    /// Unowned: the socket's `SecureChannel` owns this channel and outlives every call.
    public unowned(unsafe) var output: TransportOutput?
    private let ssl: OpaquePointer
    private let isClient: Bool
    private let statistics: TLSStatistics
    /// Ciphertext offered by the socket and not yet taken by OpenSSL.
    private var input: UnsafeRawPointer?
    private var inputCount = 0
    public private(set) var isEstablished = false
    private var hasFailed = false

    /// Takes ownership of `ssl` (a fresh SSL from the context).
    init(ssl: OpaquePointer, isClient: Bool, statistics: TLSStatistics) {
        self.ssl = ssl
        self.isClient = isClient
        self.statistics = statistics
        let bio = RecordBIO.make(for: self)
        SSL_set_bio(ssl, bio, bio)
        if isClient { SSL_set_connect_state(ssl) } else { SSL_set_accept_state(ssl) }
    }

    deinit { SSL_free(ssl) }

    /// The negotiated protocol version ("TLSv1.3"), once established.
    public var protocolVersion: String { String(cString: SSL_get_version(ssl)) }

    /// The ALPN protocol both sides agreed on, if any.
    public var applicationProtocol: String? {
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &data, &length)
        guard let data, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }

    // MARK: TransportSecurity

    public func start() {
        guard isClient else { return }
        ERR_clear_error()
        _ = SSL_do_handshake(ssl)  // queues the hello; the answer comes through readPlaintext
    }

    public func receive(ciphertext: UnsafeRawBufferPointer?) {
        input = ciphertext?.baseAddress
        inputCount = ciphertext?.count ?? 0
    }

    public func readPlaintext(into plaintext: UnsafeMutableRawBufferPointer) -> TransportRead {
        guard !hasFailed else { return .failed("TLS already failed") }
        ERR_clear_error()
        let result = SSL_read(ssl, plaintext.baseAddress, Int32(clamping: plaintext.count))
        if !isEstablished && SSL_is_init_finished(ssl) == 1 {
            isEstablished = true
            statistics.handshakesCompleted += 1
        }
        if result > 0 { return .bytes(Int(result)) }
        switch SSL_get_error(ssl, result) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            return .needInput
        case SSL_ERROR_ZERO_RETURN:
            return .closed
        default:
            return fail()
        }
    }

    public func writePlaintext(_ plaintext: UnsafeRawBufferPointer) {
        guard isEstablished, !hasFailed, plaintext.count > 0 else { return }
        ERR_clear_error()
        if SSL_write(ssl, plaintext.baseAddress, Int32(plaintext.count)) > 0 {
            statistics.recordsSealed += 1
            statistics.plaintextBytesSealed += plaintext.count
        }
    }

    public func closeNotify() {
        guard isEstablished, !hasFailed else { return }
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
    }

    public func socketDidClose(byPeer: Bool) {
        guard !isEstablished, !hasFailed else { return }
        if byPeer { statistics.failedPeerLeft += 1 } else { statistics.failedTimeout += 1 }
    }

    // MARK: Failure

    private func fail() -> TransportRead {
        hasFailed = true
        let (reason, text) = OpenSSLErrors.lastReason()
        if !isEstablished { statistics.failedBadInput += 1 }
        if reason == SSL_R_HTTP_REQUEST || reason == SSL_R_HTTPS_PROXY_REQUEST {
            // Someone used http:// or ws:// on the TLS port: tell them in words they can read.
            statistics.plaintextRequests += 1
            emit(Self.plaintextRequestResponse)
            return .failed("plaintext HTTP request on the TLS port")
        }
        return .failed(text)
    }

    /// Built once; never freed (it lives as long as the process).
    nonisolated(unsafe) private static let plaintextRequestResponse: UnsafeRawBufferPointer = {
        let body = "This port speaks TLS: use https:// or wss://.\n"
        let text = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body
        let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: text.utf8.count, alignment: 1)
        bytes.copyBytes(from: text.utf8)
        return UnsafeRawBufferPointer(bytes)
    }()

    // MARK: RecordBIO

    func emit(_ bytes: UnsafeRawBufferPointer) {
        output?.transportWrite(bytes)
    }

    func take(into destination: UnsafeMutableRawBufferPointer) -> Int {
        let count = min(inputCount, destination.count)
        guard count > 0, let input else { return 0 }
        destination.baseAddress!.copyMemory(from: input, byteCount: count)
        self.input = input + count
        inputCount -= count
        return count
    }
}
