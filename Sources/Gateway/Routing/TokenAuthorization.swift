import Auth
import EventLoop
import HTTP
import WebSocket

/// The token check of `/ws` when `--jwt-secret` or `--jwt-public-key` is set: the token comes
/// in `Authorization: Bearer` or, for browsers (which cannot set headers on a WebSocket), in
/// the query as `?token=`. A refusal is 401 with RFC 6750's `WWW-Authenticate` saying why.
/// Tokens are never logged.
struct TokenAuthorization {
    let verifier: TokenVerifier
    let metrics: GatewayMetrics

    func authorize(_ head: HTTPRequestHead) -> Result<AccessClaims, HTTPResponseError> {
        let result: Result<AccessClaims, TokenRejection>
        if let token = Self.token(in: head) {
            result = verifier.verify(token, now: WallClock.microsecondsSinceEpoch() / 1_000_000)
        } else {
            result = .failure(.missing)
        }
        switch result {
        case .success(let claims):
            metrics.tokensAccepted += 1
            return .success(claims)
        case .failure(let rejection):
            metrics.tokenRejections[rejection.metricLabel, default: 0] += 1
            var challenge = #"Bearer realm="tickstream""#
            if rejection != .missing {
                challenge += #", error="invalid_token", error_description="\#(rejection.description.replacingQuotes())""#
            }
            return .failure(HTTPResponseError(.unauthorized, "\(rejection)", headers: [("WWW-Authenticate", challenge)]))
        }
    }

    /// The bearer token of the request: its `Authorization` field, else its `token` query
    /// parameter (percent-decoded).
    static func token(in head: HTTPRequestHead) -> String? {
        if let credentials = BearerToken.credentials(in: head) { return String(decoding: credentials, as: UTF8.self) }
        guard let query = head.target.split(separator: "?", maxSplits: 1).dropFirst().first else { return nil }
        for pair in query.split(separator: "&") where pair.hasPrefix("token=") {
            return percentDecoded(pair.dropFirst("token=".count))
        }
        return nil
    }

    private static func percentDecoded(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
            bytes.append(high << 4 | low)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

extension String {
    /// The text with double quotes turned into single ones, to sit inside a quoted string.
    fileprivate func replacingQuotes() -> String { String(map { $0 == "\"" ? "'" : $0 }) }
}
