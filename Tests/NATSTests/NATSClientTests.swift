import EventLoop
import Glibc
import NATS
import TestSupport
import Testing

@Suite(.serialized) struct NATSClientTests {
    func makeClient(_ server: FakeNATSServer, loop: EventLoop, token: String? = nil) -> NATSClient {
        var settings = NATSClient.Settings(servers: [server.url], connect: NATSConnectOptions(name: "test", token: token))
        settings.reconnectDelay = (10_000_000, 40_000_000)
        settings.connectTimeout = 1_000_000_000
        return NATSClient(loop: loop, settings: settings)
    }

    /// Starts the client and plays the server's side of the handshake.
    func handshake(_ client: NATSClient, _ server: FakeNATSServer, _ loop: EventLoop, maxPayload: Int = 1_048_576) {
        client.start()
        #expect(run(loop, until: { server.poll(); return server.accepted == 1 }))
        server.sendInfo(maxPayload: maxPayload)
        #expect(runUntil(loop, server, receives: "PING\r\n"))
        server.send("PONG\r\n")
        #expect(run(loop, until: { client.status == .connected }))
    }

    /// Runs until the server saw `text` from the client.
    func runUntil(_ loop: EventLoop, _ server: FakeNATSServer, receives text: String) -> Bool {
        run(loop, until: { server.poll(); return server.received.contains(text) })
    }

    @Test func handshakeRestoresSubscriptionsAndDispatchesMessages() throws {
        let loop = try EventLoop()
        let server = try FakeNATSServer()
        let client = makeClient(server, loop: loop, token: "s3cret")
        var events: [String] = []
        client.onEvent = { event in
            if case .connected(_, let info) = event { events.append("connected \(info.serverName)") }
        }
        var payloads: [String] = []
        _ = client.subscribe("md.AAPL") { payloads.append(String(decoding: $0.payload, as: UTF8.self)) }
        client.start()
        #expect(run(loop, until: { server.poll(); return server.accepted == 1 }))
        server.sendInfo()
        // CONNECT (with the token), the SUB made before connecting, then the handshake's PING.
        #expect(runUntil(loop, server, receives: "PING\r\n"))
        #expect(server.received.hasPrefix("CONNECT {"))
        #expect(server.received.contains("\"auth_token\":\"s3cret\""))
        #expect(server.received.hasSuffix("}\r\nSUB md.AAPL 1\r\nPING\r\n"))
        #expect(client.status == .connecting)
        #expect(!client.publish("md.X", payload: UnsafeRawBufferPointer(start: nil, count: 0)), "nothing goes out before the PONG")
        server.send("PONG\r\n")
        #expect(run(loop, until: { client.status == .connected }))
        #expect(events == ["connected fake"])
        // A message cut in three writes, then one for an unknown sid (ignored).
        server.send("MSG md.AAPL 1 5\r\nhel")
        run(loop, for: 0.02)
        server.send("lo\r")
        run(loop, for: 0.02)
        server.send("\nMSG md.X 99 1\r\nz\r\n")
        #expect(run(loop, until: { payloads == ["hello"] }))
        // The server's PING is answered; a publish goes out as PUB.
        server.send("PING\r\n")
        #expect(runUntil(loop, server, receives: "PONG\r\n"))
        Array("{\"a\":1}".utf8).withUnsafeBytes { #expect(client.publish("md.MSFT", payload: $0)) }
        #expect(runUntil(loop, server, receives: "PUB md.MSFT 7\r\n{\"a\":1}\r\n"))
        #expect(client.statistics.messagesIn == 2)
        client.stop()
    }

    /// One URL of a cluster is enough: the servers INFO announces join the list, with the
    /// credentials of the URL they came from, and the client moves to them when its server goes.
    @Test func serversTheClusterAnnouncesAreTriedToo() throws {
        let loop = try EventLoop()
        let first = try FakeNATSServer(), second = try FakeNATSServer()
        var settings = NATSClient.Settings(servers: [NATSServerURL(host: "127.0.0.1", port: first.port, token: "t0k")],
                                           connect: NATSConnectOptions(name: "test"))
        settings.reconnectDelay = (10_000_000, 40_000_000)
        let client = NATSClient(loop: loop, settings: settings)
        var discovered: [NATSServerURL] = []
        client.onEvent = { if case .discovered(let servers) = $0 { discovered += servers } }
        client.start()
        #expect(run(loop, until: { first.poll(); return first.accepted == 1 }))
        first.send("INFO {\"server_name\":\"a\",\"max_payload\":1048576,\"connect_urls\":[\"127.0.0.1:\(first.port)\",\"127.0.0.1:\(second.port)\",\"[::1]:4222\",\"junk\"]}\r\n")
        #expect(runUntil(loop, first, receives: "PING\r\n"))
        first.send("PONG\r\n")
        #expect(run(loop, until: { client.status == .connected }))
        #expect(discovered.map(\.description) == ["nats://127.0.0.1:\(second.port)", "nats://[::1]:4222"])
        #expect(client.servers.count == 3 && client.servers[1].token == "t0k")
        // The first server goes: the client reaches the announced one, with the same token.
        first.dropConnection()
        #expect(run(loop, until: { second.poll(); return second.accepted == 1 }, seconds: 5))
        second.sendInfo()
        #expect(runUntil(loop, second, receives: "PING\r\n"))
        #expect(second.received.contains("\"auth_token\":\"t0k\""))
        client.stop()
    }

    @Test func reconnectsAfterTheServerGoesAndSubscribesAgain() throws {
        let loop = try EventLoop()
        let server = try FakeNATSServer()
        let client = makeClient(server, loop: loop)
        var disconnects = 0
        client.onEvent = { if case .disconnected = $0 { disconnects += 1 } }
        let sid = client.subscribe("md.A") { _ in }
        _ = client.subscribe("md.B") { _ in }
        handshake(client, server, loop)
        client.unsubscribe(sid)
        #expect(runUntil(loop, server, receives: "UNSUB 1\r\n"))
        server.dropConnection()
        #expect(run(loop, until: { disconnects == 1 }))
        #expect(client.status != .connected)
        #expect(run(loop, until: { server.poll(); return server.accepted == 2 }))
        server.sendInfo()
        #expect(runUntil(loop, server, receives: "PING\r\n"))
        // Only what is still subscribed comes back, under its old sid.
        #expect(server.received.contains("SUB md.B 2\r\n"))
        #expect(!server.received.contains("md.A"))
        server.send("PONG\r\n")
        #expect(run(loop, until: { client.status == .connected }))
        #expect(client.statistics.connects == 2)
        client.stop()
    }

    @Test func requestsGetRepliesTimeoutsAndNoResponders() throws {
        let loop = try EventLoop()
        let server = try FakeNATSServer()
        let client = makeClient(server, loop: loop)
        handshake(client, server, loop)

        var results: [String] = []
        client.request("$JS.API.X", payload: Array("{}".utf8), timeout: 1_000_000_000) { result in
            switch result {
            case .success(let reply): results.append("reply \(String(decoding: reply.payload, as: UTF8.self)) \(reply.status ?? 0)")
            case .failure(let error): results.append("\(error)")
            }
        }
        #expect(runUntil(loop, server, receives: "PUB $JS.API.X _INBOX."))
        // The inbox subscription came first; the reply subject ends in the request's token.
        let inbox = try #require(server.received.split(separator: "\r\n").first { $0.hasPrefix("SUB _INBOX.") })
        let prefix = String(inbox.split(separator: " ")[1].dropLast())  // without the "*"
        server.send("HMSG \(prefix)1 1  30 32\r\nNATS/1.0\r\nNats-Sequence: 7\r\n\r\nok\r\n")
        #expect(run(loop, until: { results.count == 1 }))
        #expect(results == ["reply ok 0"])

        client.request("nobody.here", payload: [], timeout: 1_000_000_000) { result in
            if case .failure(let error) = result { results.append("\(error)") }
        }
        #expect(runUntil(loop, server, receives: "PUB nobody.here"))
        server.send("HMSG \(prefix)2 1  16 16\r\nNATS/1.0 503\r\n\r\n\r\n")
        #expect(run(loop, until: { results.count == 2 }))
        #expect(results.last == "no responders")

        client.request("slow", payload: [], timeout: 50_000_000) { result in
            if case .failure(let error) = result { results.append("\(error)") }
        }
        #expect(run(loop, until: { results.count == 3 }))
        #expect(results.last == "no reply in time")
        // A reply after the timeout finds nobody waiting.
        server.send("MSG \(prefix)3 1 2\r\nno\r\n")
        run(loop, for: 0.05)
        #expect(results.count == 3)

        // Requests in flight fail when the connection goes.
        client.request("pending", payload: [], timeout: 5_000_000_000) { result in
            if case .failure(let error) = result { results.append("\(error)") }
        }
        #expect(runUntil(loop, server, receives: "PUB pending"))
        server.dropConnection()
        #expect(run(loop, until: { results.count == 4 }))
        #expect(results.last == "connection lost before the reply")
        client.stop()
    }

    @Test func anAuthorizationErrorFailsTheAttemptAndGarbageDropsTheConnection() throws {
        let loop = try EventLoop()
        let server = try FakeNATSServer()
        let client = makeClient(server, loop: loop)
        var failures: [String] = []
        var disconnects: [String] = []
        client.onEvent = { event in
            switch event {
            case .connectFailed(_, let reason, _): failures.append(reason)
            case .disconnected(_, let reason): disconnects.append(reason)
            default: break
            }
        }
        client.start()
        #expect(run(loop, until: { server.poll(); return server.accepted == 1 }))
        server.sendInfo()
        #expect(runUntil(loop, server, receives: "PING\r\n"))
        server.send("-ERR 'Authorization Violation'\r\n")
        #expect(run(loop, until: { failures == ["Authorization Violation"] }))
        // It tries again (after a backoff), and this time gets in.
        #expect(run(loop, until: { server.poll(); return server.accepted == 2 }))
        server.sendInfo()
        #expect(runUntil(loop, server, receives: "PING\r\n"))
        server.send("PONG\r\n")
        #expect(run(loop, until: { client.status == .connected }))
        server.send("HTTP/1.1 400 Bad Request\r\n")
        #expect(run(loop, until: { !disconnects.isEmpty }))
        #expect(disconnects[0].contains("protocol error: unknown operation"))
        #expect(client.statistics.protocolErrors == 1)
        client.stop()
    }

    @Test func publishRespectsMaxPayloadAndTheOutputBound() throws {
        let loop = try EventLoop()
        let server = try FakeNATSServer()
        var settings = NATSClient.Settings(servers: [server.url], connect: NATSConnectOptions(name: "test"))
        settings.maxPendingBytes = 64 * 1024
        let client = NATSClient(loop: loop, settings: settings)
        handshake(client, server, loop, maxPayload: 100)
        let big = [UInt8](repeating: UInt8(ascii: "x"), count: 101)
        big.withUnsafeBytes { #expect(!client.publish("md.X", payload: $0), "over the server's max_payload") }
        // The server stops reading: publishes are refused once 64 KiB wait, never queued without bound.
        let body = [UInt8](repeating: UInt8(ascii: "y"), count: 100)
        var accepted = 0
        for _ in 0..<200_000 {
            if body.withUnsafeBytes({ client.publish("md.X", payload: $0) }) { accepted += 1 } else { break }
            if accepted % 100 == 0 { loop.runOnce(maxWait: 0) }
        }
        #expect(accepted < 200_000)
        #expect(client.statistics.publishesRefused >= 2)
        client.stop()
    }
}
