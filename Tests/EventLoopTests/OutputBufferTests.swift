import ByteBuffers
@testable import EventLoop
import Glibc
import Testing
import TestSupport

/// Frame `i` of a test: `length` bytes all equal to `i`.
private func frame(_ i: Int, length: Int = 100) -> SharedBytes {
    SharedBytes.copying([UInt8](repeating: UInt8(i & 0xFF), count: length))
}

private func expected(_ range: Range<Int>, length: Int = 100) -> [UInt8] {
    range.flatMap { [UInt8](repeating: UInt8($0 & 0xFF), count: length) }
}

@Suite struct OutputBufferTests {
    /// The copies a connection writes (echoes, pongs, replies) must go back to the pool once
    /// written. A regression once kept a second reference to each written chunk, which made
    /// every chunk look shared, so none was reused: one allocation per 16 KiB of output.
    @Test func writtenChunksReturnToThePoolAndAreReused() throws {
        let harness = try Harness()
        for round in 0..<200 {
            [UInt8](repeating: UInt8(round & 0xFF), count: 300).withUnsafeBytes { harness.socket.enqueueCopy($0) }
            harness.loop.runOnce(maxWait: 0)
            #expect(readAll(harness.peer).count == 300)
        }
        #expect(harness.loop.bufferPool.chunksCreated == 1)
        #expect(harness.loop.bufferPool.freeCount == 1)
    }

    @Test func thePoolKeepsOnlyOrdinaryChunksAndAtMostItsLimit() {
        let pool = BufferPool(limit: 2)
        let chunks = (0..<3).map { _ in pool.take(minimumCapacity: 10) }
        for chunk in chunks { pool.recycle(chunk) }
        #expect(pool.freeCount == 2)
        // An oversized chunk (a large echo) is not kept: it would pin its memory.
        pool.recycle(pool.take(minimumCapacity: 5 * BufferPool.chunkSize))
        #expect(pool.freeCount == 2)
        let reused = pool.take(minimumCapacity: 100)
        #expect(chunks.contains { $0 === reused } && reused.count == 0)
    }

    /// The queue is a ring: entries wrap around the end of its storage, and it grows while
    /// wrapped. Bytes must still leave in the order they were queued.
    @Test func theRingWrapsAroundAndGrowsWithoutReorderingBytes() throws {
        let (ours, theirs) = socketPair()
        defer { close(ours); close(theirs) }
        let pool = BufferPool()
        let iovecs = UnsafeMutablePointer<iovec>.allocate(capacity: 4)
        defer { iovecs.deallocate() }
        var queue = OutboundQueue()
        var received: [UInt8] = []
        // 6 in, 5 taken off the front (as if written): head moves to 5 of a capacity of 8,
        // with frame 5 still queued, so the ring is kept.
        for i in 0..<6 { queue.append(frame(i), rings: pool.rings) }
        queue.consume(500, pool: pool)
        // 7 more wrap past the end (slots 6, 7, 0, 1, 2, 3, 4); 9 more force a grow while wrapped.
        for i in 6..<13 { queue.append(frame(i), rings: pool.rings) }
        for i in 13..<22 { queue.append(frame(i), rings: pool.rings) }
        let (frames, bytes) = (queue.frameCount, queue.byteCount)
        #expect(frames == 17 && bytes == 1700)
        // Four iovecs per sendmsg: several rounds, each gathering across the old wrap point.
        while !queue.isEmpty {
            _ = queue.write(to: ours, iovecs: iovecs, maxIovecs: 4, pool: pool)
            received += readAll(theirs)
        }
        #expect(received == expected(5..<22))
    }

    /// A queue holds its ring only while it has output: the ring goes back to the pool with
    /// the last byte written, and the next queue with output takes that same ring, so
    /// connections written in turn share rings instead of each keeping one. A queue takes its
    /// next ring at the size it needed last, rather than growing one of 8 again every time.
    @Test func anEmptiedQueueGivesItsRingBackForTheNextOne() throws {
        let (ours, theirs) = socketPair()
        defer { close(ours); close(theirs) }
        let pool = BufferPool()
        let iovecs = UnsafeMutablePointer<iovec>.allocate(capacity: 16)
        defer { iovecs.deallocate() }
        var received: [UInt8] = []
        var first = OutboundQueue()
        var second = OutboundQueue()
        for round in 0..<50 {
            // 12 frames a round on each queue in turn: more than a ring of 8 holds.
            for queueIndex in 0..<2 {
                for i in 0..<12 {
                    let bytes = frame(round * 24 + queueIndex * 12 + i)
                    if queueIndex == 0 { first.append(bytes, rings: pool.rings) } else { second.append(bytes, rings: pool.rings) }
                }
                if queueIndex == 0 {
                    _ = first.write(to: ours, iovecs: iovecs, maxIovecs: 16, pool: pool)
                } else {
                    _ = second.write(to: ours, iovecs: iovecs, maxIovecs: 16, pool: pool)
                }
                received += readAll(theirs)
            }
            let emptied = first.isEmpty && second.isEmpty
            #expect(emptied)
        }
        // The first queue's first burst made a ring of 8 and one of 16 (the 8 went back when it
        // grew); the second queue took both from the pool. After that every burst took the pooled
        // 16 at once: 4 takes in the first round, then one per burst.
        #expect(pool.ringsCreated == 2)
        #expect(pool.ringsTaken == 4 + 49 * 2)
        #expect(received == expected(0..<1200))
    }

    /// A short write leaves the rest of the first frame in place; the next write continues
    /// from that byte.
    @Test func aPartialWriteResumesMidFrame() throws {
        let (ours, theirs) = socketPair()
        defer { close(ours); close(theirs) }
        shrinkSendBuffer(ours)
        let pool = BufferPool()
        let iovecs = UnsafeMutablePointer<iovec>.allocate(capacity: 1024)
        defer { iovecs.deallocate() }
        var queue = OutboundQueue()
        for i in 0..<40 { queue.append(frame(i, length: 1000), rings: pool.rings) }
        var received: [UInt8] = []
        var rounds = 0
        while !queue.isEmpty && rounds < 1000 {
            _ = queue.write(to: ours, iovecs: iovecs, maxIovecs: 1024, pool: pool)
            received += readAll(theirs)
            rounds += 1
        }
        #expect(rounds > 1, "the small send buffer should force several writes")
        #expect(received == expected(0..<40, length: 1000))
    }
}
