/// Why a token was not accepted: said to the client in the 401's `WWW-Authenticate`
/// (RFC 6750 `error_description`) and counted by reason in /metrics.
public enum TokenRejection: Error, Equatable, Sendable, CustomStringConvertible {
    /// No token in `Authorization: Bearer` or `?token=`.
    case missing
    /// Not three base64url segments of JSON.
    case malformed(String)
    /// `alg` is none, unknown, or has no key configured here.
    case unsupportedAlgorithm(String)
    case badSignature
    case expired
    /// `nbf` is still in the future.
    case notYetValid
    /// A claim this gateway reads has the wrong type or value (`symbols` not a list of symbols).
    case invalidClaim(String)

    /// The `reason` label of `tickstream_auth_failures_total`.
    public var metricLabel: String {
        switch self {
        case .missing: return "missing"
        case .malformed: return "malformed"
        case .unsupportedAlgorithm: return "algorithm"
        case .badSignature: return "signature"
        case .expired: return "expired"
        case .notYetValid: return "not_yet_valid"
        case .invalidClaim: return "claims"
        }
    }

    public var description: String {
        switch self {
        case .missing: return "no token: send Authorization: Bearer <jwt> or ?token=<jwt>"
        case .malformed(let why): return "malformed token: \(why)"
        case .unsupportedAlgorithm(let alg): return "algorithm \(alg) is not accepted here"
        case .badSignature: return "bad signature"
        case .expired: return "token expired"
        case .notYetValid: return "token not valid yet (nbf)"
        case .invalidClaim(let why): return "invalid claim: \(why)"
        }
    }
}
