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
        /// The peer broke the transport's protocol (TLS): a bad hello, a plaintext request...
        case transportFailure(String)

        public var description: String {
            switch self {
            case .local: return "closed"
            case .peerClosed: return "peer closed"
            case .error(let errno): return "socket error \(errno)"
            case .inputOverflow: return "input overflow"
            case .lingerTimeout: return "linger timeout"
            case .transportFailure(let why): return "TLS failure: \(why)"
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

    // Declared in an order that leaves no padding between fields (a class's fields are laid
    // out as declared): at tens of thousands of sockets, every 8 bytes counts.
    public let fd: Int32
    private var interest: UInt32
    /// Strong and immutable, so hot paths use it without retaining it (an unowned(unsafe)
    /// reference is retained around every call). The loop lives as long as the process, and a
    /// socket leaves the loop's handler table when it closes, so nothing leaks.
    public let loop: EventLoop
    /// Strong until the socket closes, so a connection lives as long as its socket.
    public var delegate: StreamSocketDelegate?
    /// TLS, when the socket has it: the transport and the ciphertext waiting for the socket.
    /// Behind one optional reference, so a plaintext connection pays 8 bytes for it.
    private let secure: SecureChannel?
    /// Input kept between reads; idle connections hold none at all.
    private var pending = GrowableBuffer()
    private var queue = OutboundQueue()
    public private(set) var state: State = .open
    /// Whether the delegate hears about each write (it wants to know when a backlog drains);
    /// off by default so the common flush costs no call.
    public var notifiesWrites = false
    /// Which of the loop's latency classes this socket's output waits also count in (1...15;
    /// 0: none): its feature-flag cohorts, judged apart from their control groups.
    public var latencyClass: UInt8 = 0
    private var isDirty = false
    private var readPaused = false
    private var maxBufferedInputBytes: Int32
    private var outboundHighWaterBytes: Int32
    private var pendingCount = 0
    /// Loop time when output was queued with nothing pending: the age of the oldest queued bytes.
    private var pendingSince: UInt64 = 0
    /// Bound on input kept between reads (a partial frame or request head); at most 2 GiB.
    public var maxBufferedInput: Int {
        get { Int(maxBufferedInputBytes) }
        set { maxBufferedInputBytes = Int32(clamping: newValue) }
    }
    /// Output level above which reading pauses; at most 2 GiB.
    public var outboundHighWater: Int {
        get { Int(outboundHighWaterBytes) }
        set { outboundHighWaterBytes = Int32(clamping: newValue) }
    }
    private var lingerTimeout: UInt64 = 0
    private var lingerTimer: Timer?

    private static let baseInterest = EpollEvents.readable | EpollEvents.readHangup
    private static let readsPerEvent = 4

    /// Takes ownership of a connected, non-blocking `fd` and starts watching it. With
    /// `security`, everything read is decrypted and everything queued encrypted at flush time.
    public init(fd: Int32, loop: EventLoop, maxBufferedInput: Int, outboundHighWater: Int,
                security: TransportSecurity? = nil) throws {
        self.fd = fd
        self.loop = loop
        maxBufferedInputBytes = Int32(clamping: maxBufferedInput)
        outboundHighWaterBytes = Int32(clamping: outboundHighWater)
        self.interest = Self.baseInterest
        secure = security.map { SecureChannel(security: $0, pool: loop.bufferPool) }
        try loop.register(fd, interest: interest, handler: self)
        if let secure {
            secure.security.start()
            if !secure.sealed.isEmpty { markDirty() }
        }
    }

    /// Bytes queued and not yet written: plaintext, and with TLS the records not yet sent.
    public var outboundBytes: Int { queue.byteCount + (secure?.sealed.byteCount ?? 0) }

    /// Whether the socket has TLS and its handshake has not finished: nothing queued can go
    /// out yet, and a timeout should simply close.
    public var isAwaitingSecureHandshake: Bool { secure.map { !$0.security.isEstablished } ?? false }

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
        queue.append(bytes, rings: loop.bufferPool.rings)
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
    ///
    /// With TLS before the handshake finished, nothing can be said securely: it closes at once.
    public func shutdownAfterFlush(lingerTimeout: UInt64) {
        guard state == .open else { return }
        if isAwaitingSecureHandshake {
            closeNow(.local)
            return
        }
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

    /// With a flush delay: flushes once the oldest queued output has waited `delay`. An earlier
    /// listing of a socket that was flushed in between (right after its own read event) and
    /// listed again finds its output too young and leaves it to the newer listing: otherwise
    /// such stale listings would flush early, over and over, and halve the batching.
    func flushIfDue(at current: UInt64, delay: UInt64) {
        guard isDirty else { return }
        if !queue.isEmpty && current &- pendingSince < delay { return }
        isDirty = false
        flushNow()
    }

    func flushIfDirty() {
        guard isDirty else { return }
        isDirty = false
        flushNow()
    }

    // Inlined into the loop's flush of dirty sockets, the path every delivery takes.
    @inline(__always)
    private func flushNow() {
        guard state == .open || state == .shuttingDown else { return }
        let result: Swift.Result<Int, SystemError>
        if let secure {
            result = secure.flush(plaintext: &queue, fd: fd, loop: loop, closing: state == .shuttingDown)
        } else if !queue.isEmpty {
            result = queue.write(to: fd, iovecs: loop.iovecs, maxIovecs: EventLoop.maxIovecs, pool: loop.bufferPool)
        } else {
            result = .success(0)
        }
        switch result {
        case .failure(let error):
            closeNow(.error(error.errno))
            return
        case .success(let written):
            if written > 0 {
                // After a partial write the rest keeps the old mark: an upper bound on its age.
                loop.recordOutputWait(since: pendingSince, latencyClass: latencyClass)
                if notifiesWrites { delegate?.streamSocketDidWrite(self) }
            }
            guard state == .open || state == .shuttingDown else { return }
        }
        if state == .shuttingDown && queue.isEmpty && (secure?.sealed.isEmpty ?? true) {
            Glibc.shutdown(fd, Int32(SHUT_WR))
            state = .lingering
            readPaused = false
            // Strong capture; closeNow cancels it. (A weak one would slow every retain of the socket.)
            lingerTimer = loop.schedule(after: lingerTimeout) { self.closeNow(.lingerTimeout) }
        }
        let outbound = outboundBytes
        if readPaused && outbound <= outboundHighWater / 2 {
            readPaused = false
        } else if !readPaused && state == .open && outbound > outboundHighWater {
            readPaused = true
        }
        updateInterest()
    }

    private func updateInterest() {
        var wanted: UInt32 = readPaused ? 0 : Self.baseInterest
        // With TLS, plaintext waits for the handshake, not for the socket: only records do.
        let waiting: Bool
        if let secure { waiting = !secure.sealed.isEmpty } else { waiting = !queue.isEmpty }
        if waiting { wanted |= EpollEvents.writable }
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
                if let secure {
                    guard readSecure(secure) else { return }
                } else {
                    guard readIntoDelegate() else { return }
                }
            }
        }
    }

    /// Reads and hands bytes to the delegate; false when there is nothing more to read now.
    private func readIntoDelegate() -> Bool {
        var requested = 0
        let n = deliver { destination, capacity in
            requested = capacity
            return Glibc.read(fd, destination, capacity)
        }
        guard n > 0 else { return n == Self.stopped ? false : handleReadEnd(n) }
        loop.countRead(bytes: n)
        return n == requested
    }

    /// Returned by `deliver` when the socket closed for overflow before reading.
    private static let stopped = Int.min

    /// Fills the shared buffer, or the tail of the kept input, from `source` (which behaves like
    /// read(2)) and offers everything unconsumed to the delegate. Returns what `source` returned.
    @inline(__always)
    private func deliver(_ source: (UnsafeMutableRawPointer, Int) -> Int) -> Int {
        if pendingCount == 0 {
            let shared = loop.sharedReadBuffer
            let n = source(shared.baseAddress!, shared.count)
            guard n > 0 else { return n }
            let consumed = delegate?.streamSocket(self, didRead: UnsafeMutableRawBufferPointer(rebasing: shared[0..<n])) ?? n
            if state == .open && consumed < n {
                keep(UnsafeRawBufferPointer(rebasing: shared[consumed..<n]))
            }
            return n
        }
        if pendingCount == pending.capacity {
            guard pending.capacity < maxBufferedInput else {
                closeNow(.inputOverflow)
                return Self.stopped
            }
            pending.reserve(min(max(pending.capacity * 2, pendingCount + 65536), maxBufferedInput), keeping: pendingCount)
        }
        let n = source(pending.base! + pendingCount, pending.capacity - pendingCount)
        guard n > 0 else { return n }
        pendingCount += n
        let consumed = delegate?.streamSocket(self, didRead: UnsafeMutableRawBufferPointer(start: pending.base, count: pendingCount)) ?? pendingCount
        if state == .open { dropPending(consumed) }
        return n
    }

    /// TLS: reads one batch of ciphertext and decrypts all of it, handing the plaintext to the
    /// delegate as it comes. All of the batch is taken before returning, because it sits in a
    /// buffer the next socket reads into. False when there is nothing more to read now.
    private func readSecure(_ secure: SecureChannel) -> Bool {
        let buffer = loop.transportReadBuffer
        let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
        guard n > 0 else { return handleReadEnd(n) }
        loop.countRead(bytes: n)
        let security = secure.security
        security.receive(ciphertext: UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        defer { security.receive(ciphertext: nil) }
        while state == .open {
            var outcome = TransportRead.needInput
            let delivered = deliver { destination, capacity in
                outcome = security.readPlaintext(into: UnsafeMutableRawBufferPointer(start: destination, count: capacity))
                if case .bytes(let count) = outcome { return count }
                return 0
            }
            if delivered == Self.stopped { return false }
            switch outcome {
            case .bytes: continue
            case .needInput: break
            case .closed:
                closeNow(.peerClosed)
                return false
            case .failed(let why):
                failTransport(why)
                return false
            }
            break
        }
        // Handshake messages to answer, or plaintext that waited for the handshake to finish.
        if state == .open && (!secure.sealed.isEmpty || (!queue.isEmpty && security.isEstablished)) { markDirty() }
        return n == buffer.count
    }

    /// The peer broke TLS: one attempt to send what the transport had to say (an alert, or a
    /// plain 400 to a plaintext request), then close.
    private func failTransport(_ why: String) {
        if let secure, !secure.sealed.isEmpty {
            _ = secure.sealed.write(to: fd, iovecs: loop.iovecs, maxIovecs: EventLoop.maxIovecs, pool: loop.bufferPool)
        }
        closeNow(.transportFailure(why))
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
        pending.reserve(max(bytes.count * 2, 4096), keeping: 0)
        pending.base!.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        pendingCount = bytes.count
    }

    private func dropPending(_ consumed: Int) {
        if consumed >= pendingCount {
            pending.release()
            pendingCount = 0
        } else if consumed > 0 {
            memmove(pending.base!, pending.base! + consumed, pendingCount - consumed)
            pendingCount -= consumed
        }
    }

    // MARK: Handover

    /// Whether the socket can go to another process: open and plaintext (a TLS session's keys
    /// and sequence numbers live in this process's OpenSSL state).
    public var canDetach: Bool { state == .open && secure == nil }

    /// Lets `body` change the input kept between reads in place.
    public func withBufferedInput<R>(_ body: (UnsafeMutableRawBufferPointer) -> R) -> R {
        body(UnsafeMutableRawBufferPointer(start: pending.base, count: pendingCount))
    }

    /// What a detached socket leaves to the descriptor's next owner.
    public struct Detached {
        public let fd: Int32
        /// Input read and not consumed (an incomplete frame).
        public let input: [UInt8]
        /// Output queued and not written yet.
        public let output: [UInt8]
    }

    /// Leaves the loop without closing the descriptor, which the caller now owns (it is going
    /// to another process). Queued output is written first as far as the socket takes it; the
    /// rest comes back with the unconsumed input. The delegate hears nothing. Nil when the
    /// socket cannot be detached or failed while writing (then it closed the usual way).
    public func detach() -> Detached? {
        guard canDetach else { return nil }
        if !queue.isEmpty { flushNow() }
        guard state == .open else { return nil }
        var output = [UInt8](repeating: 0, count: queue.byteCount)
        let copied = output.withUnsafeMutableBytes { queue.copyFront(into: $0) }
        precondition(copied == output.count)
        let input = Array(UnsafeRawBufferPointer(start: pending.base, count: pendingCount))
        state = .closed
        loop.unregister(fd)
        queue.removeAll()
        pending.release()
        pendingCount = 0
        delegate = nil
        return Detached(fd: fd, input: input, output: output)
    }

    /// Puts input that a previous owner of the descriptor read, and did not consume, in front
    /// of what is read next. For a socket that has read nothing yet.
    public func restoreInput(_ bytes: [UInt8]) {
        precondition(pendingCount == 0, "restoring input into a socket that has input")
        guard !bytes.isEmpty else { return }
        pending.reserve(max(bytes.count, 4096), keeping: 0)
        bytes.withUnsafeBytes { pending.base!.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        pendingCount = bytes.count
    }

    private func closeNow(_ reason: CloseReason) {
        guard state != .closed else { return }
        state = .closed
        lingerTimer?.cancel()
        lingerTimer = nil
        loop.unregister(fd)
        Glibc.close(fd)
        queue.removeAll()
        if let secure {
            secure.sealed.removeAll()
            let byPeer: Bool
            switch reason {
            case .peerClosed, .error, .lingerTimeout, .inputOverflow, .transportFailure: byPeer = true
            case .local: byPeer = false
            }
            secure.security.socketDidClose(byPeer: byPeer)
        }
        pending.release()
        pendingCount = 0
        let delegate = self.delegate
        self.delegate = nil
        delegate?.streamSocketDidClose(self, reason: reason)
    }
}
