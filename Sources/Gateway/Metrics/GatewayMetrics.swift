import HTTP
import MarketData
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
    var slowConsumerCloses: UInt64 = 0
    var commandErrors: UInt64 = 0
    var feedErrors: UInt64 = 0

    func connectionOpened(version: ProtocolVersion) {
        if version == .v1 { subscribersV1 += 1 } else { subscribersV2 += 1 }
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

    func recordHandshake(_ status: HTTPStatus) { handshakes[status.code, default: 0] += 1 }
    func recordCloseSent(_ code: CloseCode) { closeCodesSent[code.rawValue, default: 0] += 1 }
    func recordCloseReceived(_ code: CloseCode) { closeCodesReceived[code.rawValue, default: 0] += 1 }
}
