@testable import Connection
import EventLoop
import Testing
import TestSupport
import WebSocket

/// Server connections borrow a frame reader only while they are mid-message (see
/// `MessageReaderPool`): what a connection reads must not depend on which reader it borrowed.
@Suite struct ReaderPoolTests {
    private func upgraded(_ count: Int, loop: EventLoop, server: RecordingServer) throws -> [(WebSocketConnection, RawPeer)] {
        var pairs: [(WebSocketConnection, RawPeer)] = []
        for _ in 0..<count {
            let (connection, peer) = try serverConnection(loop: loop, delegate: server)
            peer.requestUpgrade(path: "/echo")
            pairs.append((connection, peer))
        }
        #expect(run(loop, until: { pairs.allSatisfy { $0.0.phase == .open } }))
        for (_, peer) in pairs { _ = peer.readResponse() }
        return pairs
    }

    /// Fifty connections that each send whole messages share one reader; a connection left
    /// mid-frame keeps the reader it borrowed while the others borrow another, and completes
    /// its message later; at rest, both readers are back in the pool.
    @Test func connectionsAtRestShareReadersAndAPartialFrameKeepsItsOwn() throws {
        let loop = try EventLoop()
        let server = RecordingServer()
        let pairs = try upgraded(50, loop: loop, server: server)
        for (index, (_, peer)) in pairs.enumerated() { peer.sendText("hello \(index)") }
        var echoed = [[RawPeer.Event]](repeating: [], count: pairs.count)
        #expect(run(loop, until: {
            for (index, (_, peer)) in pairs.enumerated() { echoed[index] += peer.readEvents() }
            return echoed.allSatisfy { !$0.isEmpty }
        }))
        for (index, events) in echoed.enumerated() { #expect(events == [.text("hello \(index)")]) }
        let pool = try #require(server.readerPools[1 << 16])
        #expect(pool.readersCreated == 1 && pool.freeCount == 1)

        // Half a frame from the first connection: its reader stays with it.
        let frame = FrameEncoder.frame(opcode: .text, fin: true, payload: Array("split across two reads".utf8), maskKey: 0x0102_0304)
        pairs[0].1.write(Array(frame[..<12]))
        run(loop, for: 0.05)
        #expect(pool.freeCount == 0)
        pairs[1].1.sendText("meanwhile")
        #expect(run(loop, until: { pairs[1].1.readEvents() == [.text("meanwhile")] }))
        #expect(pool.readersCreated == 2 && pool.freeCount == 1)
        pairs[0].1.write(Array(frame[12...]))
        #expect(run(loop, until: { pairs[0].1.readEvents() == [.text("split across two reads")] }))
        #expect(pool.readersCreated == 2 && pool.freeCount == 2)
    }

    /// The connection's reader field stays one word whichever state it is in: the point of
    /// lending readers is memory per connection.
    @Test func theReaderStateIsOneWord() {
        #expect(MemoryLayout<WebSocketConnection.ReaderState>.size == 8)
    }

    /// A fragmented message keeps its reader between fragments, with the fragments so far,
    /// while other connections' messages come and go.
    @Test func aFragmentedMessageKeepsItsReaderBetweenFragments() throws {
        let loop = try EventLoop()
        let server = RecordingServer()
        let pairs = try upgraded(3, loop: loop, server: server)
        pairs[0].1.send(.text, Array("frag".utf8), fin: false)
        run(loop, for: 0.05)
        for index in 1..<3 {
            pairs[index].1.sendText("whole \(index)")
            #expect(run(loop, until: { pairs[index].1.readEvents() == [.text("whole \(index)")] }))
        }
        pairs[0].1.send(.continuation, Array("ments".utf8), fin: false)
        run(loop, for: 0.05)
        pairs[0].1.send(.continuation, Array(" joined".utf8))
        #expect(run(loop, until: { pairs[0].1.readEvents() == [.text("fragments joined")] }))
        let pool = try #require(server.readerPools[1 << 16])
        #expect(pool.readersCreated == 2 && pool.freeCount == 2)
    }

    /// A text message broken inside a UTF-8 sequence fails its connection with 1007; the
    /// reader that judged it goes back to the pool and the next connection borrowing it must
    /// judge its own text afresh, not as the rest of that sequence.
    @Test func aReaderThatRefusedTextJudgesTheNextConnectionAfresh() throws {
        let loop = try EventLoop()
        let server = RecordingServer()
        let pairs = try upgraded(2, loop: loop, server: server)
        pairs[0].1.send(.text, [0x61, 0xE2, 0x82, 0x41])
        var events: [RawPeer.Event] = []
        #expect(run(loop, until: { events += pairs[0].1.readEvents(); return !events.isEmpty }))
        #expect(events == [.close(1007)])
        let pool = try #require(server.readerPools[1 << 16])
        #expect(pool.readersCreated == 1)
        pairs[1].1.sendText("plain text")
        #expect(run(loop, until: { pairs[1].1.readEvents() == [.text("plain text")] }))
        #expect(pool.readersCreated == 1)
    }

    /// A compressed message on a connection that agreed permessage-deflate, and a plain one on
    /// a connection that did not, through the same pool: each borrowed reader takes the
    /// borrowing connection's setting.
    @Test func aBorrowedReaderTakesTheConnectionsCompressionSetting() throws {
        let loop = try EventLoop()
        let server = RecordingServer()
        server.compression = CompressionWorkspace()
        let (_, plainPeer) = try serverConnection(loop: loop, delegate: server)
        plainPeer.requestUpgrade(path: "/echo")
        let (_, deflatePeer) = try serverConnection(loop: loop, delegate: server)
        deflatePeer.requestUpgrade(path: "/echo", extraHeaders: ["Sec-WebSocket-Extensions: permessage-deflate"])
        #expect(run(loop, until: { plainPeer.readResponse() != nil && deflatePeer.readResponse() != nil }))
        deflatePeer.acceptCompressed()
        // RSV1 set: a compressed frame ("hello" deflated, without the final 00 00 FF FF).
        var compressed = FrameEncoder.frame(opcode: .text, payload: [0xCA, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00], maskKey: 0x1122_3344)
        compressed[0] |= 0x40
        deflatePeer.write(compressed)
        #expect(run(loop, until: { deflatePeer.readEvents() == [.text("hello")] }))
        // The same reader, lent to a connection without compression: RSV1 is a protocol error.
        plainPeer.write(compressed)
        var events: [RawPeer.Event] = []
        #expect(run(loop, until: { events += plainPeer.readEvents(); return !events.isEmpty }))
        #expect(events == [.close(1002)])
    }
}
