import ByteBuffers
import Connection
import EventLoop
@testable import Gateway
import Glibc
import Logging
import MarketData
import TestSupport

/// The gateway's parts wired as `Gateway` wires them, without a listener: tests hand the
/// registry one end of a socketpair and speak WebSocket by hand on the other.
final class GatewayHarness {
    let loop: EventLoop
    let context: GatewayContext
    let service: MarketDataService
    let router = Router()
    let registry: ConnectionRegistry

    init(_ configure: (inout GatewayConfiguration) -> Void = { _ in }) throws {
        var configuration = GatewayConfiguration()
        configuration.closeTimeout = 1
        configure(&configuration)
        loop = try EventLoop()
        context = GatewayContext(loop: loop, configuration: configuration,
                                 logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        service = MarketDataService(maxSubscriptions: configuration.maxSubscriptions, maxSymbols: configuration.maxSymbols)
        registry = ConnectionRegistry(context: context, router: router,
                                      admission: AdmissionControl(maxConnections: configuration.maxConnections ?? 1000,
                                                                  maxPerAddress: configuration.maxConnectionsPerAddress))
        router.addWebSocket("/ws", endpoint: MarketDataEndpoint(context: context, service: service))
    }

    /// A subscriber upgraded on /ws offering `protocols`, and the server's connection for it.
    /// `smallSendBuffer` makes the server's kernel buffer tiny, so a peer that does not read
    /// backs output up in the gateway quickly.
    func subscriber(protocols: [String], smallSendBuffer: Bool = false) -> (peer: RawPeer, connection: WebSocketConnection) {
        let (ours, theirs) = socketPair()
        if smallSendBuffer { shrinkSendBuffer(ours) }
        registry.accept(ours, from: SocketAddress(host: "127.0.0.1", port: 40000)!)
        let peer = RawPeer(fd: theirs)
        peer.requestUpgrade(path: "/ws", protocols: protocols)
        var response: String?
        run(loop, until: { response = peer.readResponse(); return response != nil })
        precondition(response?.hasPrefix("HTTP/1.1 101") == true, "upgrade failed: \(response ?? "no response")")
        let connection = registry.all.first { $0.socket.fd == ours }!
        return (peer, connection)
    }

    /// The market session serving `connection`.
    func session(of connection: WebSocketConnection) -> MarketSession { connection.session as! MarketSession }

    /// A text frame of about `size` bytes whose payload starts with `tag`.
    static func update(_ tag: String, size: Int = 500) -> SharedBytes {
        let payload = Array((tag + "|" + String(repeating: "x", count: max(0, size - tag.utf8.count - 1))).utf8)
        return payload.withUnsafeBytes { FrameBuilder.textFrame($0) }
    }

    /// Reads `peer` until nothing new arrives for `quiet` seconds (or `seconds` pass).
    func readUntilQuiet(_ peer: RawPeer, quiet: Double = 0.2, seconds: Double = 5) -> [RawPeer.Event] {
        var events: [RawPeer.Event] = []
        var lastNews = MonotonicClock.now()
        let deadline = lastNews + UInt64(seconds * 1e9)
        while MonotonicClock.now() < deadline {
            loop.runOnce(maxWait: 5)
            let new = peer.readEvents()
            if !new.isEmpty {
                events += new
                lastNews = MonotonicClock.now()
            } else if MonotonicClock.now() - lastNews > UInt64(quiet * 1e9) {
                break
            }
        }
        return events
    }
}
