import HTTP
import MarketData
import TLS

/// `POST /admin/drain`, `POST /admin/reload-tls` and `POST /admin/reload-flags`, registered
/// only when `--admin-token` is set (404 otherwise).
enum AdminEndpoints {
    static func register(on router: Router, token: String, drain: DrainController,
                         reloadCertificate: @escaping () -> Result<TLSServerContext, TLSConfigurationError>?,
                         reloadFlags: @escaping () -> Bool?) {
        router.addHTTP("/admin/reload-flags", methods: ["POST"]) { head, _ in
            if let refusal = unauthorized(head, token: token) { return refusal }
            switch reloadFlags() {
            case nil:
                return HTTPResponse(status: .conflict, contentType: "application/json",
                                    body: "{\"error\":\"no --flags-file to reload (with --bus, flags follow the bucket by themselves)\"}\n")
            case true?:
                return HTTPResponse(status: .ok, contentType: "application/json", body: "{\"reloaded\":true}\n")
            case false?:
                return HTTPResponse(status: .unprocessableContent, contentType: "application/json",
                                    body: "{\"reloaded\":false,\"error\":\"the file was refused; the flags held before stay (see the log)\"}\n")
            }
        }
        router.addHTTP("/admin/drain", methods: ["POST"]) { head, _ in
            if let refusal = unauthorized(head, token: token) { return refusal }
            drain.begin(trigger: "POST /admin/drain")
            return HTTPResponse(status: .accepted, contentType: "application/json",
                                body: "{\"draining\":true,\"phase\":\"\(drain.phase.rawValue)\"}\n")
        }
        router.addHTTP("/admin/reload-tls", methods: ["POST"]) { head, _ in
            if let refusal = unauthorized(head, token: token) { return refusal }
            switch reloadCertificate() {
            case nil:
                return HTTPResponse(status: .conflict, contentType: "application/json",
                                    body: "{\"error\":\"the listener does not use TLS (no --tls-cert)\"}\n")
            case .success(let loaded)?:
                return HTTPResponse(status: .ok, contentType: "application/json",
                                    body: "{\"reloaded\":true,\"subject\":\(jsonString(loaded.subject)),\"not_after\":\(loaded.notAfter)}\n")
            case .failure(let error)?:
                // The old certificate stays in use: the reload is refused, the listener is fine.
                return HTTPResponse(status: .unprocessableContent, contentType: "application/json",
                                    body: "{\"reloaded\":false,\"error\":\(jsonString(error.description))}\n")
            }
        }
    }

    private static func unauthorized(_ head: HTTPRequestHead, token: String) -> HTTPResponse? {
        if BearerToken(token: token).isPresented(in: head) { return nil }
        return HTTPResponse(status: .unauthorized, contentType: "application/json",
                            body: "{\"error\":\"Authorization: Bearer <admin token> required\"}\n",
                            headers: [("WWW-Authenticate", "Bearer")])
    }

    /// `text` as a quoted JSON string.
    private static func jsonString(_ text: String) -> String {
        var writer = ByteWriter(capacity: text.utf8.count * 6 + 2)
        writer.write(byte: UInt8(ascii: "\""))
        writer.writeEscaped(text)
        writer.write(byte: UInt8(ascii: "\""))
        return writer.string
    }
}
