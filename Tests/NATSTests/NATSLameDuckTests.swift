import EventLoop
import Glibc
import NATS
import TestSupport
import Testing

/// A server's lame-duck notice moves the client make before break: the new connection is
/// subscribed before the old one closes, publishing waits until the old server has handled
/// what it was sent, and nothing counts as a disconnect.
@Suite(.serialized) struct NATSLameDuckTests {
    func runUntil(_ loop: EventLoop, _ server: FakeNATSServer, receives text: String) -> Bool {
        run(loop, until: { server.poll(); return server.received.contains(text) })
    }

    /// Starts the client and plays the server's side of the handshake.
    func connect(_ client: NATSClient, to server: FakeNATSServer, _ loop: EventLoop) {
        client.start()
        #expect(run(loop, until: { server.poll(); return server.accepted == 1 }))
        server.sendInfo()
        #expect(runUntil(loop, server, receives: "PING\r\n"))
        server.send("PONG\r\n")
        #expect(run(loop, until: { client.status == .connected }))
    }

    func publish(_ client: NATSClient, _ text: String) -> Bool {
        Array(text.utf8).withUnsafeBytes { client.publish("md.A", payload: $0) }
    }

    @Test func movesMakeBeforeBreak() throws {
        let loop = try EventLoop()
        let first = try FakeNATSServer(), second = try FakeNATSServer()
        var settings = NATSClient.Settings(servers: [first.url], connect: NATSConnectOptions(name: "test"))
        settings.lameDuckJitter = 0
        settings.moveOverlap = 300_000_000
        let client = NATSClient(loop: loop, settings: settings)
        var events: [String] = []
        client.onEvent = { event in
            switch event {
            case .lameDuck: events.append("lame duck")
            case .moved(let from, let to, _): events.append("moved \(from.port)->\(to.port)")
            case .disconnected: events.append("disconnected")
            default: break
            }
        }
        var received: [String] = []
        _ = client.subscribe("md.A") { received.append(String(decoding: $0.payload, as: UTF8.self)) }
        connect(client, to: first, loop)
        first.consume(first.received.utf8.count)

        // The notice names the other server; the client opens a second connection and
        // subscribes there while the first one still carries everything.
        first.send("INFO {\"server_name\":\"a\",\"ldm\":true,\"connect_urls\":[\"127.0.0.1:\(second.port)\"]}\r\n")
        #expect(run(loop, until: { second.poll(); return second.accepted == 1 }))
        second.sendInfo()
        #expect(runUntil(loop, second, receives: "SUB md.A 1\r\nPING\r\n"))
        #expect(publish(client, "one"))
        #expect(runUntil(loop, first, receives: "PUB md.A 3\r\none\r\n"), "until the new server answers, the old one takes publishes")
        first.send("MSG md.A 1 3\r\nold\r\n")
        #expect(run(loop, until: { received == ["old"] }))

        // The new server accepted the subscriptions: it takes over. The old one is asked to
        // confirm what it was sent; until it does, publishes wait (a writer's numbering must
        // not overtake itself across two servers).
        second.send("PONG\r\n")
        #expect(run(loop, until: { events.contains { $0.hasPrefix("moved") } }))
        #expect(events == ["lame duck", "moved \(first.port)->\(second.port)"])
        #expect(client.server?.port == second.port && client.status == .connected)
        #expect(!publish(client, "held"))
        #expect(runUntil(loop, first, receives: "PING\r\n"))
        first.send("PONG\r\n")
        #expect(run(loop, until: { publish(client, "two") }))
        #expect(runUntil(loop, second, receives: "PUB md.A 3\r\ntwo\r\n"))
        #expect(!first.received.contains("two"))

        // During the overlap both deliver (the caller drops duplicates); then the old closes.
        first.send("MSG md.A 1 4\r\nlate\r\n")
        second.send("MSG md.A 1 3\r\nnew\r\n")
        #expect(run(loop, until: { received.count == 3 }))
        #expect(Set(received) == ["old", "late", "new"])
        #expect(run(loop, until: { first.poll(); return first.peerClosed }, seconds: 2), "the old connection closes after the overlap")
        #expect(client.statistics.moves == 1 && client.statistics.disconnects == 0 && client.statistics.connects == 1)
        #expect(!events.contains("disconnected"))
        client.stop()
    }

    @Test func aMoveWithNowhereToGoStaysUntilTheServerCloses() throws {
        let loop = try EventLoop()
        let first = try FakeNATSServer()
        var settings = NATSClient.Settings(servers: [first.url], connect: NATSConnectOptions(name: "test"))
        settings.lameDuckJitter = 0
        let client = NATSClient(loop: loop, settings: settings)
        var failed: String?
        client.onEvent = { if case .moveFailed(_, let reason) = $0 { failed = reason } }
        connect(client, to: first, loop)
        // Both other servers announced refuse connections: each is tried once.
        var refusing: [Int] = []
        for _ in 0..<2 {
            let listener = try Socket.listen(on: SocketAddress(host: "127.0.0.1", port: 0)!, reusePort: false)
            refusing.append(Socket.localAddress(listener)!.port)
            Glibc.close(listener)
        }
        first.send("INFO {\"ldm\":true,\"connect_urls\":[\"127.0.0.1:\(refusing[0])\",\"127.0.0.1:\(refusing[1])\"]}\r\n")
        #expect(run(loop, until: { failed != nil }, seconds: 3))
        #expect(client.statistics.connectAttempts == 3, "the first connect, then each other server once")
        #expect(client.status == .connected, "the client stays on the old server until it closes")
        // When it closes, the client reconnects as after any loss.
        first.dropConnection()
        #expect(run(loop, until: { client.statistics.disconnects == 1 }))
        client.stop()
    }
}
