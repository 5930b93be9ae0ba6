import ByteBuffers
import Glibc

/// Receives a `StreamSocket`'s input and its end.
public protocol StreamSocketDelegate: AnyObject {
    /// Bytes arrived. `bytes` begins with whatever was left unconsumed before. Returns how many
    /// were consumed; the rest are kept (up to `maxBufferedInput`) and offered again with more.
    /// The bytes may be changed in place (unmasking) and are valid only during the call.
    func streamSocket(_ socket: StreamSocket, didRead bytes: UnsafeMutableRawBufferPointer) -> Int
    /// The socket is closed; nothing more will be called.
    func streamSocketDidClose(_ socket: StreamSocket, reason: StreamSocket.CloseReason)
    /// Some queued output was written: room may have opened up below a queue bound. Called
    /// only while `notifiesWrites` is set.
    func streamSocketDidWrite(_ socket: StreamSocket)
}

extension StreamSocketDelegate {
    public func streamSocketDidWrite(_ socket: StreamSocket) {}
}

/// A connected, non-blocking TCP socket on an `EventLoop`: reads into the loop's shared buffer,
/// keeps only the unconsumed tail of a read, queues output by reference and writes it with
/// one gathered sendmsg per loop iteration.
///
/// Backpressure: while more than `outboundHighWater` bytes wait to be written, it stops reading
/// and resumes below half of that, so a peer that writes without reading cannot grow memory.
public final class StreamSocket: EventHandler {
    public enum CloseReason: Sendable, Equatable, CustomStringConvertible {
        /// `close()` was called, or the graceful shutdown completed.
        case local
        /// The peer closed its end (EOF) while the connection was open.
        case peerClosed
        /// A read or write failed (reset, broken pipe...).
        case error(Int32)
        /// The peer sent more unconsumed input than `maxBufferedInput`.
        case inputOverflow
        /// The peer did not finish closing within the linger time after our shutdown.
        case lingerTimeout

        public var description: String {
            switch self {
            case .local: return "closed"
            case .peerClosed: return "peer closed"
            case .error(let errno): return "socket error \(errno)"
            case .inputOverflow: return "input overflow"
            case .lingerTimeout: return "linger timeout"
            }
        }
    }

    public enum State: Sendable, Equatable {
        case open
        /// Output is being flushed; then the write side is shut down.
        case shuttingDown
        /// Our side is shut down; input is discarded until the peer's EOF or the linger time.
        case lingering
        case closed
    }

    public let fd: Int32
    /// Strong and immutable, so hot paths use it without retaining it (an unowned(unsafe)
    /// reference is retained around every call). The loop lives as long as the process, and a
    /// socket leaves the loop's handler table when it closes, so nothing leaks.
    public let loop: EventLoop
    /// Strong until the socket closes, so a connection lives as long as its socket.
    public var delegate: StreamSocketDelegate?
    /// Bound on input kept between reads (a partial frame or request head).
    public var maxBufferedInput: Int
    /// Output level above which reading pauses.
    public var outboundHighWater: Int
    public private(set) var state: State = .open
    /// Whether the delegate hears about each write (it wants to know when a backlog drains);
    /// off by default so the common flush costs no call.
    public var notifiesWrites = false

    private var pending: UnsafeMutableRawPointer?
    private var pendingCount = 0
    private var pendingCapacity = 0
    private var queue = OutboundQueue()
    private var interest: UInt32
    private var isDirty = false
    /// Loop time when output was queued with nothing pending: the age of the oldest queued bytes.
    private var pendingSince: UInt64 = 0
    private var readPaused = false
    private var lingerTimeout: UInt64 = 0
    private var lingerTimer: Timer?

    private static let baseInterest = EpollEvents.readable | EpollEvents.readHangup
    private static let readsPerEvent = 4

    /// Takes ownership of a connected, non-blocking `fd` and starts watching it.
    public init(fd: Int32, loop: EventLoop, maxBufferedInput: Int, outboundHighWater: Int) throws {
        self.fd = fd
        self.loop = loop
        self.maxBufferedInput = maxBufferedInput
        self.outboundHighWater = outboundHighWater
        self.interest = Self.baseInterest
        try loop.register(fd, interest: interest, handler: self)
    }

    deinit { pending?.deallocate() }

    /// Bytes queued and not yet written.
    public var outboundBytes: Int { queue.byteCount }

    /// Whether reading is paused because too much output is queued.
    public var isReadPaused: Bool { readPaused }

    /// Bytes of input kept between reads (a partial frame or request).
    public var bufferedInputBytes: Int { pendingCount }

    // MARK: Output

    /// Queues bytes to be written at the end of this loop iteration. Ignored once closing.
    public func enqueue(_ bytes: SharedBytes) {
        loop.assertOnLoopThread()
        guard state == .open else { return }
        if queue.isEmpty { pendingSince = loop.now }
        queue.append(bytes)
        markDirty()
    }

    /// Queues `count` bytes that `write` fills in, copied into the connection's private output
    /// chunk: for bytes that belong to this connection alone (an echo, a pong, a response).
    public func enqueueCopy(count: Int, _ write: (UnsafeMutableRawBufferPointer) -> Void) {
        loop.assertOnLoopThread()
        guard state == .open else { return }
        if queue.isEmpty { pendingSince = loop.now }
        queue.appendCopy(count: count, pool: loop.bufferPool, write)
        markDirty()
    }

    /// Queues a copy of `bytes`.
    public func enqueueCopy(_ bytes: UnsafeRawBufferPointer) {
        enqueueCopy(count: bytes.count) { $0.copyMemory(from: bytes) }
    }

    /// Writes what is queued, then shuts down our side; the socket closes at the peer's EOF
    /// or after `lingerTimeout` nanoseconds. Closing without the wait could make the kernel
    /// reset the connection and destroy our last bytes (a Close frame) before the peer reads them.
    public func shutdownAfterFlush(lingerTimeout: UInt64) {
        guard state == .open else { return }
        state = .shuttingDown
        self.lingerTimeout = lingerTimeout
        markDirty()
    }

    /// Closes at once, dropping queued output.
    public func close() { closeNow(.local) }

    private func markDirty() {
        if !isDirty {
            isDirty = true
            loop.markDirty(self)
        }
    }

    func flushIfDirty() {
        guard isDirty else { return }
        isDirty = false
        flushNow()
    }

    private func flushNow() {
        guard state == .open || state == .shuttingDown else { return }
        if !queue.isEmpty {
            switch queue.write(to: fd, iovecs: loop.iovecs, maxIovecs: EventLoop.maxIovecs, pool: loop.bufferPool) {
            case .failure(let error):
                closeNow(.error(error.errno))
                return
            case .success(let written):
                if written > 0 {
                    // After a partial write the rest keeps the old mark: an upper bound on its age.
                    loop.recordOutputWait(since: pendingSince)
                    if notifiesWrites { delegate?.streamSocketDidWrite(self) }
                }
                guard state == .open || state == .shuttingDown else { return }
            }
        }
        if queue.isEmpty && state == .shuttingDown {
            Glibc.shutdown(fd, Int32(SHUT_WR))
            state = .lingering
            readPaused = false
            // Strong capture; closeNow cancels it. (A weak one would slow every retain of the socket.)
            lingerTimer = loop.schedule(after: lingerTimeout) { self.closeNow(.lingerTimeout) }
        }
        if readPaused && queue.byteCount <= outboundHighWater / 2 {
            readPaused = false
        } else if !readPaused && state == .open && queue.byteCount > outboundHighWater {
            readPaused = true
        }
        updateInterest()
    }

    private func updateInterest() {
        var wanted: UInt32 = readPaused ? 0 : Self.baseInterest
        if !queue.isEmpty { wanted |= EpollEvents.writable }
        if wanted != interest {
            interest = wanted
            loop.modify(fd, interest: wanted)
        }
    }

    // MARK: Input

    public func handleEvent(_ events: UInt32) {
        if events & EpollEvents.writable != 0 {
            flushNow()
        }
        if events & ~EpollEvents.writable != 0 {
            readAvailable()
            // Replies to this read (echoes, pongs, responses) are all gathered now: write them
            // before moving on, so the pooled chunk they sit in is free for the next socket.
            // Output queued from elsewhere (a fan-out) still waits for the iteration's end.
            flushIfDirty()
        }
    }

    private func readAvailable() {
        for _ in 0..<Self.readsPerEvent {
            switch state {
            case .closed: return
            case .shuttingDown, .lingering:
                guard discardInput() else { return }
            case .open:
                if readPaused { return }
                guard readIntoDelegate() else { return }
            }
        }
    }

    /// Reads and hands bytes to the delegate; false when there is nothing more to read now.
    private func readIntoDelegate() -> Bool {
        let shared = loop.sharedReadBuffer
        let n: Int
        if pendingCount == 0 {
            n = Glibc.read(fd, shared.baseAddress, shared.count)
            guard n > 0 else { return handleReadEnd(n) }
            let consumed = delegate?.streamSocket(self, didRead: UnsafeMutableRawBufferPointer(rebasing: shared[0..<n])) ?? n
            if state == .open && consumed < n {
                keep(UnsafeRawBufferPointer(rebasing: shared[consumed..<n]))
            }
            return n == shared.count
        }
        if pendingCount == pendingCapacity {
            guard pendingCapacity < maxBufferedInput else {
                closeNow(.inputOverflow)
                return false
            }
            grow(to: min(max(pendingCapacity * 2, pendingCount + 65536), maxBufferedInput))
        }
        n = Glibc.read(fd, pending! + pendingCount, pendingCapacity - pendingCount)
        guard n > 0 else { return handleReadEnd(n) }
        pendingCount += n
        let filled = pendingCount == pendingCapacity
        let consumed = delegate?.streamSocket(self, didRead: UnsafeMutableRawBufferPointer(start: pending, count: pendingCount)) ?? pendingCount
        guard state == .open else { return false }
        dropPending(consumed)
        return filled
    }

    /// In shutdown: reads and drops input until EOF. False when there is nothing more now.
    private func discardInput() -> Bool {
        let shared = loop.sharedReadBuffer
        let n = Glibc.read(fd, shared.baseAddress, shared.count)
        if n > 0 { return true }
        if n == 0 {
            closeNow(.local)
            return false
        }
        return handleReadEnd(n)
    }

    /// A read that returned no bytes: EOF or an error. Returns whether to try again.
    private func handleReadEnd(_ n: Int) -> Bool {
        if n == 0 {
            closeNow(state == .open ? .peerClosed : .local)
            return false
        }
        let error = errno
        if error == EINTR { return true }
        if error == EAGAIN || error == EWOULDBLOCK { return false }
        closeNow(.error(error))
        return false
    }

    private func keep(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count <= maxBufferedInput else {
            closeNow(.inputOverflow)
            return
        }
        grow(to: max(bytes.count * 2, 4096))
        pending!.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        pendingCount = bytes.count
    }

    private func dropPending(_ consumed: Int) {
        if consumed >= pendingCount {
            // Idle connections hold no input buffer at all.
            pending?.deallocate()
            pending = nil
            pendingCount = 0
            pendingCapacity = 0
        } else if consumed > 0 {
            memmove(pending!, pending! + consumed, pendingCount - consumed)
            pendingCount -= consumed
        }
    }

    private func grow(to capacity: Int) {
        guard capacity > pendingCapacity else { return }
        let grown = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        if let pending {
            grown.copyMemory(from: pending, byteCount: pendingCount)
            pending.deallocate()
        }
        pending = grown
        pendingCapacity = capacity
    }

    private func closeNow(_ reason: CloseReason) {
        guard state != .closed else { return }
        state = .closed
        lingerTimer?.cancel()
        lingerTimer = nil
        loop.unregister(fd)
        Glibc.close(fd)
        queue.removeAll()
        pending?.deallocate()
        pending = nil
        pendingCount = 0
        pendingCapacity = 0
        let delegate = self.delegate
        self.delegate = nil
        delegate?.streamSocketDidClose(self, reason: reason)
    }
}
