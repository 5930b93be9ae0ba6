import HTTP
import MarketData
import WebSocket

/// Counters owned by the loop thread and bumped with plain integer adds: nothing atomic or
/// locked on the hot path. They are read on the same thread when a scrape is served.
final class GatewayMetrics {
    var connectionsAccepted: UInt64 = 0
    var connectionsOpen = 0
    var webSocketsOpen = 0
    /// Open WebSocket connections that negotiated permessage-deflate.
    var compressedConnections = 0
    /// Upgrade attempts by result: ok, bad_request, unsupported_version, not_found,
    /// unavailable (draining or at capacity), unauthorized, forbidden_origin,
    /// too_many_from_address, method_not_allowed.
    var handshakes: [String: UInt64] = [:]
    var httpResponses: [Int: UInt64] = [:]
    var drainEvictions: UInt64 = 0
    var drainForcedCloses: UInt64 = 0
    /// Live handover: connections sent to a successor, adopted from a predecessor, and
    /// received but not continued (over this instance's limits, or dropped unconfirmed).
    var handoverSent: UInt64 = 0
    var handoverAdopted: UInt64 = 0
    var handoverFailed: UInt64 = 0
    /// Watched deploys: verdicts by decision (promoted, rolled_back, crashed), whether one is
    /// under way here (as the new version or the standby), and the figures of the last verdict
    /// (side: baseline or candidate).
    var watchDecisions: [String: UInt64] = [:]
    var watching = false
    var watchFigures: [(side: String, figure: String, value: Double)] = []
    var closeCodesSent: [UInt16: UInt64] = [:]
    var closeCodesReceived: [UInt16: UInt64] = [:]
    var closeTimeouts: UInt64 = 0
    var acceptErrors: UInt64 = 0

    // Liveness and limits.
    var pingsSent: UInt64 = 0
    var idleCloses: UInt64 = 0
    /// Messages (and pings) dropped for going over `--message-rate`.
    var rateLimitedMessages: UInt64 = 0
    /// Connections turned away before any request was read, by limit: max_connections,
    /// per_address, descriptors (the process ran out; answered from the reserve descriptor).
    var refusedConnections: [String: UInt64] = [:]
    /// Tokens checked at /ws upgrades (with --jwt-*): accepted, and refused by reason.
    var tokensAccepted: UInt64 = 0
    var tokenRejections: [String: UInt64] = [:]
    /// Connections closed with 1008 when their token expired.
    var tokenExpiryCloses: UInt64 = 0
    /// Subscribe commands refused for naming a symbol outside the token's `symbols` claim.
    var forbiddenSubscriptions: UInt64 = 0

    // Market data, per protocol version. Plain stored counters, not arrays: an array inside a
    // class costs a uniqueness check and an exclusivity check on every increment.
    var subscribersV1 = 0
    var subscribersV2 = 0
    var messagesSentV1: UInt64 = 0
    var messagesSentV2: UInt64 = 0
    var bytesSentV1: UInt64 = 0
    var bytesSentV2: UInt64 = 0
    var conflatedUpdates: UInt64 = 0
    var conflationEpisodes: UInt64 = 0
    /// Subscriptions to symbols nobody published at the time.
    var unknownSymbolSubscriptions: UInt64 = 0
    /// Market-data sessions over the process's life (the whole of which a cohort is part).
    var marketSessionsStarted: UInt64 = 0
    /// What the gated features' cohorts did, both sides of each.
    var cohorts = Cohorts()
    var slowConsumerCloses: UInt64 = 0
    var commandErrors: UInt64 = 0
    var feedErrors: UInt64 = 0

    func connectionOpened(version: ProtocolVersion) {
        if version == .v1 { subscribersV1 += 1 } else { subscribersV2 += 1 }
        marketSessionsStarted &+= 1
    }

    func connectionClosed(version: ProtocolVersion) {
        if version == .v1 { subscribersV1 -= 1 } else { subscribersV2 -= 1 }
    }

    @inline(__always)
    func recordSent(version: ProtocolVersion, bytes: Int) {
        if version == .v1 {
            messagesSentV1 &+= 1
            bytesSentV1 &+= UInt64(bytes)
        } else {
            messagesSentV2 &+= 1
            bytesSentV2 &+= UInt64(bytes)
        }
    }

    func recordResponse(_ status: HTTPStatus, upgradeAttempt: Bool) {
        httpResponses[status.code, default: 0] += 1
        guard upgradeAttempt else { return }
        let result: String
        switch status.code {
        case 101: result = "ok"
        case 401: result = "unauthorized"
        case 404: result = "not_found"
        case 405: result = "method_not_allowed"
        case 426: result = "unsupported_version"
        case 403: result = "forbidden_origin"
        case 429: result = "too_many_from_address"
        case 503: result = "unavailable"
        default: result = "bad_request"
        }
        handshakes[result, default: 0] += 1
    }
    /// A verdict and the figures it was reached on.
    func recordWatch(decision: String, baseline: DeployWindow?, candidate: DeployWindow?) {
        watchDecisions[decision, default: 0] += 1
        watching = false
        watchFigures = []
        for (side, window) in [("baseline", baseline), ("candidate", candidate)] {
            guard let window else { continue }
            watchFigures += window.figures.map { (side, $0.name, $0.value) }
        }
    }

    func recordCloseSent(_ code: CloseCode) { closeCodesSent[code.rawValue, default: 0] += 1 }
    func recordCloseReceived(_ code: CloseCode) { closeCodesReceived[code.rawValue, default: 0] += 1 }
}
