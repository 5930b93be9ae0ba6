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
        return head.queryParameter("token")
    }
}

extension String {
    /// The text with double quotes turned into single ones, to sit inside a quoted string.
    fileprivate func replacingQuotes() -> String { String(map { $0 == "\"" ? "'" : $0 }) }
}
