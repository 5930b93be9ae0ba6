import COpenSSL

/// OpenSSL reports failures through a per-thread queue of codes. These read it.
enum OpenSSLErrors {
    /// Empties the queue into one readable line (the last, most specific entry first).
    static func drain() -> String { lastReason().text }

    /// Empties the queue and returns the reason code of its last entry (0 when empty).
    static func lastReason() -> (reason: Int32, text: String) {
        var last: UInt = 0
        var messages: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            last = code
            messages.append(describe(code))
        }
        return (ts_err_reason(last), messages.isEmpty ? "unknown OpenSSL error" : messages.reversed().joined(separator: "; "))
    }

    private static func describe(_ code: UInt) -> String {
        if let reason = ERR_reason_error_string(code) { return String(cString: reason) }
        return "error \(code)"
    }
}
