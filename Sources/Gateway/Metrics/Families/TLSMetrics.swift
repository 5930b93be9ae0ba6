/// The listener's TLS: its certificate, handshakes, records and reloads.
enum TLSMetrics {
    static func render(context: GatewayContext, to out: inout PrometheusText) {
        if let certificate = context.certificate {
            let tls = certificate.statistics
            out.metric("tickstream_tls_certificate_expiry_timestamp_seconds", "gauge",
                       "When the certificate new handshakes use expires (Unix seconds).", certificate.current.notAfter)
            out.metric("tickstream_tls_handshakes_total", "counter", "TLS handshakes completed.", tls.handshakesCompleted)
            out.header("tickstream_tls_handshake_failures_total", "counter",
                       "TLS handshakes that did not finish: bad_input (garbage, no common version, cipher or ALPN), plaintext_http (http:// or ws:// sent to the TLS port, answered with a plain 400), peer_left (closed mid-handshake), timeout (cut after --handshake-timeout, or by a drain).")
            out.sample("tickstream_tls_handshake_failures_total", [("reason", "bad_input")], tls.failedBadInput - tls.plaintextRequests)
            out.sample("tickstream_tls_handshake_failures_total", [("reason", "plaintext_http")], tls.plaintextRequests)
            out.sample("tickstream_tls_handshake_failures_total", [("reason", "peer_left")], tls.failedPeerLeft)
            out.sample("tickstream_tls_handshake_failures_total", [("reason", "timeout")], tls.failedTimeout)
            out.metric("tickstream_tls_records_total", "counter", "TLS records of application data written (each gathers many frames).",
                       tls.recordsSealed)
            out.metric("tickstream_tls_record_plaintext_bytes_total", "counter", "Plaintext bytes those records carried.",
                       tls.plaintextBytesSealed)
            out.header("tickstream_tls_reloads_total", "counter", "Certificate reloads (SIGHUP, POST /admin/reload-tls) by result.")
            out.sample("tickstream_tls_reloads_total", [("result", "ok")], certificate.reloads)
            out.sample("tickstream_tls_reloads_total", [("result", "refused")], certificate.failedReloads)
        }

    }
}
