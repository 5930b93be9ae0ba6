import ByteBuffers
import EventLoop
import Glibc
import Testing
import TestSupport

/// Writes per delivery: how many `sendmsg` calls the loop makes for what was queued, with and
/// without a flush delay. The count is what decides throughput on one core.
@Suite struct FlushDelayTests {
    private func sockets(_ loop: EventLoop, count: Int) throws -> [(StreamSocket, Int32)] {
        try (0..<count).map { _ in
            let (ours, theirs) = socketPair()
            return (try StreamSocket(fd: ours, loop: loop, maxBufferedInput: 1024, outboundHighWater: 1 << 20), theirs)
        }
    }

    @Test func everythingQueuedInOneIterationLeavesInOneWritePerSocket() throws {
        let loop = try EventLoop()
        let pairs = try sockets(loop, count: 5)
        let frame = SharedBytes.copying(Array("update|".utf8))
        for (socket, _) in pairs { for _ in 0..<10 { socket.enqueue(frame) } }
        loop.runOnce(maxWait: 0)
        #expect(loop.statistics.writes == 5)
        for (socket, peer) in pairs {
            #expect(readAll(peer).count == 70)
            socket.close()
            Glibc.close(peer)
        }
    }

    @Test func withoutADelayEachIterationWrites() throws {
        let loop = try EventLoop()
        let (socket, peer) = try sockets(loop, count: 1)[0]
        let frame = SharedBytes.copying(Array("u|".utf8))
        for _ in 0..<3 {
            socket.enqueue(frame)
            loop.runOnce(maxWait: 0)
        }
        #expect(loop.statistics.writes == 3)
        #expect(readAll(peer).count == 6)
        socket.close()
        Glibc.close(peer)
    }

    /// Output queued over several iterations within the delay leaves in one write, no sooner
    /// than the delay after the first of it and not much later.
    @Test func aFlushDelayGathersSeveralIterationsIntoOneWrite() throws {
        let loop = try EventLoop()
        loop.flushDelay = 50_000_000
        let pairs = try sockets(loop, count: 2)
        let frame = SharedBytes.copying(Array("u|".utf8))
        // The window counts from the loop time of the iteration that queues: start one now, so
        // that time is not the loop's creation (slow under a sanitizer).
        loop.runOnce(maxWait: 0)
        let start = MonotonicClock.now()
        for _ in 0..<4 {
            for (socket, _) in pairs { socket.enqueue(frame) }
            loop.runOnce(maxWait: 5)
        }
        #expect(loop.statistics.writes == 0)
        #expect(readAll(pairs[0].1).isEmpty)
        // The loop sleeps until the oldest output is due, then writes each socket once.
        while loop.statistics.writes < 2 && MonotonicClock.now() - start < 1_000_000_000 { loop.runOnce() }
        let waited = MonotonicClock.now() - start
        #expect(loop.statistics.writes == 2)
        #expect(waited >= 49_000_000 && waited < 150_000_000, "waited \(waited / 1_000_000) ms")
        for (socket, peer) in pairs {
            #expect(readAll(peer).count == 8)
            socket.close()
            Glibc.close(peer)
        }
        // The output-wait histogram saw the delay: the gateway's own share of latency.
        #expect(loop.statistics.outputWaits.totalNanoseconds >= 2 * 50_000_000)
    }

    /// Reads are counted too (a client's messages per read is the same figure seen from the
    /// other end).
    @Test func readsAreCounted() throws {
        let loop = try EventLoop()
        let (socket, peer) = try sockets(loop, count: 1)[0]
        let delegate = CountingDelegate()
        socket.delegate = delegate
        write(peer, Array("hello".utf8))
        #expect(run(loop, until: { delegate.bytes == 5 }))
        #expect(loop.statistics.reads == 1)
        socket.close()
        Glibc.close(peer)
    }
}

private final class CountingDelegate: StreamSocketDelegate {
    var bytes = 0
    func streamSocket(_ socket: StreamSocket, didRead bytes: UnsafeMutableRawBufferPointer) -> Int {
        self.bytes += bytes.count
        return bytes.count
    }
    func streamSocketDidClose(_ socket: StreamSocket, reason: StreamSocket.CloseReason) {}
}

/// A socket flushed early by its own read event (a reply) and given more output afterwards
/// keeps the full window for that output: its old listing must not flush it early.
@Suite struct FlushDelayRelistingTests {
    @Test func aReplyFlushDoesNotShortenTheNextWindow() throws {
        let loop = try EventLoop()
        loop.flushDelay = 40_000_000
        let (ours, peer) = socketPair()
        let socket = try StreamSocket(fd: ours, loop: loop, maxBufferedInput: 1024, outboundHighWater: 1 << 20)
        let echo = EchoingDelegate()
        socket.delegate = echo
        let frame = SharedBytes.copying(Array("u|".utf8))
        socket.enqueue(frame)  // listed at t0
        loop.runOnce(maxWait: 0)
        write(peer, Array("ping".utf8))  // its reply is written right after the read, with u|
        #expect(run(loop, until: { loop.statistics.writes == 1 }, seconds: 1))
        #expect(readAll(peer).count == 6)
        let relisted = MonotonicClock.now()
        socket.enqueue(frame)  // listed again
        // The t0 listing comes due first; the new output must wait its own 40 ms.
        while loop.statistics.writes < 2 && MonotonicClock.now() - relisted < 1_000_000_000 { loop.runOnce() }
        // (The window counts from the iteration that queued it, a moment before `relisted`.)
        #expect(MonotonicClock.now() - relisted >= 38_000_000)
        #expect(readAll(peer).count == 2)
        socket.close()
        Glibc.close(peer)
    }
}

private final class EchoingDelegate: StreamSocketDelegate {
    func streamSocket(_ socket: StreamSocket, didRead bytes: UnsafeMutableRawBufferPointer) -> Int {
        socket.enqueueCopy(UnsafeRawBufferPointer(bytes))
        return bytes.count
    }
    func streamSocketDidClose(_ socket: StreamSocket, reason: StreamSocket.CloseReason) {}
}
