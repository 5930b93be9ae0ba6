import Connection
import EventLoop
import Testing
import TestSupport
import WebSocket

/// A server connection handed from one loop to another (as a live handover does between
/// processes): the peer keeps its socket, a message it was sending across the move arrives
/// whole, and output queued before the move arrives after it, byte for byte.
@Suite struct ConnectionHandoverTests {
    @Test func aConnectionMovesMidMessageWithItsUnwrittenOutput() throws {
        let before = try EventLoop()
        let after = try EventLoop()
        let oldServer = RecordingServer()
        let (connection, peer) = try serverConnection(loop: before, delegate: oldServer)
        peer.requestUpgrade(path: "/echo", protocols: ["v2"])
        #expect(run(before, until: { peer.readResponse()?.hasPrefix("HTTP/1.1 101") == true }))

        // More output than the socket takes while the peer reads nothing: the rest stays queued.
        let large = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        large.withUnsafeBytes { connection.send(opcode: .binary, payload: $0) }
        // A fragmented text message, its second frame cut in the middle of a 3-byte character.
        peer.send(.text, Array("frag".utf8), fin: false)
        let rest = FrameEncoder.frame(opcode: .continuation, fin: true, payload: Array("mented ✓".utf8), maskKey: 0x0102_0304)
        peer.write(Array(rest[..<(rest.count - 2)]))
        run(before, for: 0.05)

        #expect(connection.canHandOver)
        let (fd, state) = try #require(connection.handOver())
        #expect(state.subprotocol == "v2")
        #expect(state.reader.fragmentOpcode == .text && state.reader.fragments == Array("frag".utf8))
        #expect(state.input.count == rest.count - 2)
        #expect(!state.output.isEmpty && state.output.count < large.count + 10)
        #expect(oldServer.ended.isEmpty && oldServer.closesSent.isEmpty, "the old side closes nothing")
        #expect(connection.phase == .closed && !connection.canHandOver)

        let newServer = RecordingServer()
        let socket = try StreamSocket(fd: fd, loop: after, maxBufferedInput: 1 << 16, outboundHighWater: 1 << 20)
        let adopted = try #require(WebSocketConnection(adopting: state, socket: socket, limits: fast,
                                                       route: RouteLimits(maxMessageBytes: 1 << 16, messageRate: nil),
                                                       compression: nil, delegate: newServer))
        adopted.session = EchoSession()
        #expect(adopted.phase == .open && adopted.subprotocol == "v2")
        peer.write(Array(rest[(rest.count - 2)...]))
        var events: [RawPeer.Event] = []
        #expect(run(after, until: { events += peer.readEvents(); return events.count >= 2 }))
        #expect(events == [.binary(large), .text("fragmented ✓")])
        #expect(!peer.sawEOF)
        #expect(newServer.closesSent.isEmpty)
    }

    /// What cannot move says so: a connection still in HTTP, and one whose Close went out.
    @Test func onlyOpenConnectionsMove() throws {
        let loop = try EventLoop()
        let server = RecordingServer()
        let (http, _) = try serverConnection(loop: loop, delegate: server)
        #expect(!http.canHandOver && http.handOver() == nil)
        let (closing, peer) = try serverConnection(loop: loop, delegate: server)
        peer.requestUpgrade(path: "/echo")
        #expect(run(loop, until: { peer.readResponse()?.hasPrefix("HTTP/1.1 101") == true }))
        closing.close(code: .goingAway)
        #expect(!closing.canHandOver && closing.handOver() == nil)
    }
}
