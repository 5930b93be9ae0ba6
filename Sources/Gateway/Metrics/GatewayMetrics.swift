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

    // Market data, per protocol version (index 0: v1, 1: v2).
    var subscribersOpen = [0, 0]
    var messagesSent: [UInt64] = [0, 0]
    var bytesSent: [UInt64] = [0, 0]
    var conflatedUpdates: UInt64 = 0
    var conflationEpisodes: UInt64 = 0
    var slowConsumerCloses: UInt64 = 0
    var commandErrors: UInt64 = 0
    var feedErrors: UInt64 = 0

    @inline(__always)
    private func slot(_ version: ProtocolVersion) -> Int { version == .v1 ? 0 : 1 }

    func connectionOpened(version: ProtocolVersion) { subscribersOpen[slot(version)] += 1 }
    func connectionClosed(version: ProtocolVersion) { subscribersOpen[slot(version)] -= 1 }

    @inline(__always)
    func recordSent(version: ProtocolVersion, bytes: Int) {
        messagesSent[slot(version)] &+= 1
        bytesSent[slot(version)] &+= UInt64(bytes)
    }

    func recordHandshake(_ status: HTTPStatus) { handshakes[status.code, default: 0] += 1 }
    func recordCloseSent(_ code: CloseCode) { closeCodesSent[code.rawValue, default: 0] += 1 }
    func recordCloseReceived(_ code: CloseCode) { closeCodesReceived[code.rawValue, default: 0] += 1 }
}
