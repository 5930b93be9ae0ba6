import HTTP
import WebSocket

/// Counters owned by the loop thread and bumped with plain integer adds: nothing atomic or
/// locked on the hot path. They are read on the same thread when a scrape is served.
final class GatewayMetrics {
    var connectionsAccepted: UInt64 = 0
    var connectionsOpen = 0
    var webSocketsOpen = 0
    var handshakes: [Int: UInt64] = [:]
    var closeCodesSent: [UInt16: UInt64] = [:]
    var closeCodesReceived: [UInt16: UInt64] = [:]
    var closeTimeouts: UInt64 = 0
    var acceptErrors: UInt64 = 0

    func recordHandshake(_ status: HTTPStatus) { handshakes[status.code, default: 0] += 1 }
    func recordCloseSent(_ code: CloseCode) { closeCodesSent[code.rawValue, default: 0] += 1 }
    func recordCloseReceived(_ code: CloseCode) { closeCodesReceived[code.rawValue, default: 0] += 1 }
}
