import ByteBuffers
import EventLoop
import Glibc
import Synchronization
import Testing
import TestSupport

/// Records input; consumes only whole lines, so partial input must be kept by the socket.
final class LineDelegate: StreamSocketDelegate {
    var lines: [String] = []
    var closeReason: StreamSocket.CloseReason?

    func streamSocket(_ socket: StreamSocket, didRead bytes: UnsafeMutableRawBufferPointer) -> Int {
        var consumed = 0
        while let newline = bytes[consumed...].firstIndex(of: UInt8(ascii: "\n")) {
            lines.append(String(decoding: bytes[consumed..<newline], as: UTF8.self))
            consumed = newline + 1
        }
        return consumed
    }

    func streamSocketDidClose(_ socket: StreamSocket, reason: StreamSocket.CloseReason) {
        closeReason = reason
    }
}

/// A loop, a StreamSocket on one end of a socketpair, the test's end, and a recording delegate.
struct Harness {
    let loop: EventLoop
    let socket: StreamSocket
    let peer: Int32
    let delegate = LineDelegate()

    init(maxBufferedInput: Int = 1024, outboundHighWater: Int = 1 << 20) throws {
        loop = try EventLoop()
        let (ours, theirs) = socketPair()
        peer = theirs
        socket = try StreamSocket(fd: ours, loop: loop, maxBufferedInput: maxBufferedInput, outboundHighWater: outboundHighWater)
        socket.delegate = delegate
    }
}

@Suite struct EventLoopTests {
    @Test func timersFireInDeadlineOrderAndCancelledOnesDoNot() throws {
        let loop = try EventLoop()
        var fired: [Int] = []
        loop.schedule(after: 3_000_000) { fired.append(3) }
        loop.schedule(after: 1_000_000) { fired.append(1) }
        let cancelled = loop.schedule(after: 2_000_000) { fired.append(2) }
        loop.schedule(after: 1_000_000) { fired.append(11) }  // same deadline: scheduling order
        cancelled.cancel()
        let start = MonotonicClock.now()
        while fired.count < 3 && MonotonicClock.now() - start < 1_000_000_000 { loop.runOnce(maxWait: 10) }
        #expect(fired == [1, 11, 3])
    }

    @Test func executeFromAnotherThreadWakesTheLoop() throws {
        let loop = try EventLoop()
        let ran = Atomic<Bool>(false)
        let thread = Thread { loop.execute { ran.store(true, ordering: .relaxed) } }
        thread.start()
        let start = MonotonicClock.now()
        // No timers and no events: only the eventfd can end this wait.
        loop.runOnce(maxWait: 5_000)
        let didRun = ran.load(ordering: .relaxed)
        #expect(didRun)
        #expect(MonotonicClock.now() - start < 4_000_000_000)
        thread.join()
    }

    @Test func keepsPartialInputUntilTheRestArrives() throws {
        let h = try Harness(maxBufferedInput: 1024, outboundHighWater: 1 << 20)
        let (loop, socket, theirs, delegate) = (h.loop, h.socket, h.peer, h.delegate)
        defer { Glibc.close(theirs) }
        write(theirs, Array("one\ntw".utf8))
        loop.runOnce(maxWait: 100)
        #expect(delegate.lines == ["one"])
        #expect(socket.bufferedInputBytes == 2)
        write(theirs, Array("o\nthree\n".utf8))
        loop.runOnce(maxWait: 100)
        #expect(delegate.lines == ["one", "two", "three"])
        #expect(socket.bufferedInputBytes == 0)
        socket.close()
    }

    @Test func closesWhenUnconsumedInputExceedsTheBound() throws {
        let h = try Harness(maxBufferedInput: 100, outboundHighWater: 1 << 20)
        let (loop, socket, theirs, delegate) = (h.loop, h.socket, h.peer, h.delegate)
        defer { Glibc.close(theirs) }
        write(theirs, [UInt8](repeating: UInt8(ascii: "x"), count: 500))  // no newline, ever
        for _ in 0..<5 { loop.runOnce(maxWait: 10) }
        #expect(delegate.closeReason == .inputOverflow)
        #expect(socket.state == .closed)
    }

    @Test func gathersQueuedFramesAndWritesThemInOrder() throws {
        let h = try Harness(maxBufferedInput: 1024, outboundHighWater: 1 << 20)
        let (loop, socket, theirs) = (h.loop, h.socket, h.peer)
        defer { Glibc.close(theirs) }
        let shared = SharedBytes.copying(Array("shared|".utf8))
        socket.enqueue(shared)
        Array("copy|".utf8).withUnsafeBytes { socket.enqueueCopy($0) }
        socket.enqueue(shared)
        #expect(socket.outboundBytes == 19)
        #expect(readAll(theirs).isEmpty)  // corked until the end of the iteration
        loop.runOnce(maxWait: 0)
        #expect(String(decoding: readAll(theirs), as: UTF8.self) == "shared|copy|shared|")
        #expect(socket.outboundBytes == 0)
        socket.close()
    }

    @Test func pausesReadingWhileOutputIsBackedUp() throws {
        let h = try Harness(maxBufferedInput: 1024, outboundHighWater: 64 * 1024)
        let (loop, socket, theirs) = (h.loop, h.socket, h.peer)
        defer { Glibc.close(theirs) }
        let big = SharedBytes.make(count: 1 << 20) { $0.initializeMemory(as: UInt8.self, repeating: 7) }
        socket.enqueue(big)
        loop.runOnce(maxWait: 0)
        #expect(socket.isReadPaused)  // the peer reads nothing: most of 1 MiB is still queued
        var received = 0
        let start = MonotonicClock.now()
        while received < 1 << 20 && MonotonicClock.now() - start < 5_000_000_000 {
            received += readAll(theirs).count
            loop.runOnce(maxWait: 10)
        }
        #expect(received == 1 << 20)
        #expect(!socket.isReadPaused)
        socket.close()
    }

    @Test func shutdownAfterFlushDeliversOutputThenEOF() throws {
        let h = try Harness(maxBufferedInput: 1024, outboundHighWater: 1 << 20)
        let (loop, socket, theirs, delegate) = (h.loop, h.socket, h.peer, h.delegate)
        socket.enqueue(SharedBytes.copying(Array("last words".utf8)))
        socket.shutdownAfterFlush(lingerTimeout: 5_000_000_000)
        loop.runOnce(maxWait: 0)
        #expect(socket.state == .lingering)
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = buffer.withUnsafeMutableBytes { Glibc.read(theirs, $0.baseAddress, $0.count) }
        #expect(String(decoding: buffer[0..<max(0, n)], as: UTF8.self) == "last words")
        let eof = buffer.withUnsafeMutableBytes { Glibc.read(theirs, $0.baseAddress, $0.count) }
        #expect(eof == 0)  // our write side is shut
        Glibc.close(theirs)  // the peer finishes; the socket sees EOF and closes
        loop.runOnce(maxWait: 100)
        #expect(socket.state == .closed)
        #expect(delegate.closeReason == .local)
    }

    @Test func lingerTimeoutClosesAPeerThatNeverCloses() throws {
        let h = try Harness(maxBufferedInput: 1024, outboundHighWater: 1 << 20)
        let (loop, socket, theirs, delegate) = (h.loop, h.socket, h.peer, h.delegate)
        defer { Glibc.close(theirs) }
        socket.shutdownAfterFlush(lingerTimeout: 20_000_000)
        let start = MonotonicClock.now()
        while socket.state != .closed && MonotonicClock.now() - start < 2_000_000_000 { loop.runOnce(maxWait: 5) }
        #expect(delegate.closeReason == .lingerTimeout)
    }

    @Test func peerEOFClosesAnOpenSocket() throws {
        let h = try Harness(maxBufferedInput: 1024, outboundHighWater: 1 << 20)
        Glibc.close(h.peer)
        h.loop.runOnce(maxWait: 100)
        #expect(h.delegate.closeReason == .peerClosed)
        #expect(h.socket.state == .closed)
    }
}

@Suite struct RepeatingTimerTests {
    @Test func firesAtItsCadenceUntilCancelled() throws {
        let loop = try EventLoop()
        var fired = 0
        var timer: Timer?
        timer = loop.scheduleRepeating(every: 2_000_000) {
            fired += 1
            if fired == 5 { timer?.cancel() }
        }
        let start = MonotonicClock.now()
        while MonotonicClock.now() - start < 100_000_000 { loop.runOnce(maxWait: 5) }
        #expect(fired == 5)
        #expect(timer?.isPending == false)
    }

    /// A stall skips the missed firings but keeps the phase: the deadlines stay on
    /// start + n × interval, so a ticker's batches keep their boundaries.
    @Test func afterAStallTheCadenceKeepsItsPhase() throws {
        let loop = try EventLoop()
        let start = MonotonicClock.now()
        var deadlines: [UInt64] = []
        var timer: Timer?
        timer = loop.scheduleRepeating(every: 10_000_000, firstAt: start + 10_000_000) {
            deadlines.append(timer!.deadline)
            if deadlines.count == 1 { usleep(35_000) }  // a stall across three firings
            if deadlines.count == 3 { timer?.cancel() }
        }
        while timer?.isPending == true && MonotonicClock.now() - start < 500_000_000 { loop.runOnce(maxWait: 5) }
        #expect(deadlines.count == 3)
        for deadline in deadlines { #expect((deadline - start) % 10_000_000 == 0) }
        // Fired at 10 ms and stalled to 45 ms: the 20 ms firing comes late, once (for 20, 30
        // and 40), and the next is 50 ms, not 55.
        #expect(deadlines.map { ($0 - start) / 1_000_000 } == [10, 20, 50])
    }
}
