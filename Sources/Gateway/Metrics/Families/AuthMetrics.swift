/// Tokens at /ws upgrades, with --jwt-*.
enum AuthMetrics {
    static func render(context: GatewayContext, to out: inout PrometheusText) {
        let m = context.metrics
        if context.configuration.jwtSecret != nil || context.configuration.jwtPublicKeyPath != nil {
            out.metric("tickstream_auth_tokens_accepted_total", "counter", "Valid tokens presented at /ws upgrades.", m.tokensAccepted)
            out.header("tickstream_auth_failures_total", "counter",
                       "/ws upgrades refused with 401, by reason: missing, malformed, algorithm (none, unknown or without a key here), signature, expired, not_yet_valid, claims.")
            for reason in ["algorithm", "claims", "expired", "malformed", "missing", "not_yet_valid", "signature"] {
                out.sample("tickstream_auth_failures_total", [("reason", reason)], m.tokenRejections[reason, default: 0])
            }
            out.metric("tickstream_auth_expiry_closes_total", "counter", "Connections closed with 1008 when their token expired.",
                       m.tokenExpiryCloses)
            out.metric("tickstream_auth_forbidden_subscriptions_total", "counter",
                       "Subscribe commands refused (forbidden_symbol) for symbols outside the token's claim.", m.forbiddenSubscriptions)
        }

    }
}
