import CShims
import Glibc
import Synchronization

/// A single-threaded event loop on Linux epoll (level-triggered).
///
/// One iteration: wait for readiness (bounded by the next timer), dispatch events, run due
/// timers and cross-thread tasks, then flush every socket that
/// queued output during the iteration, once each ("cork": many frames, one sendmsg). A socket
/// also flushes right after handling its own read event, so replies never pile up in memory.
///
/// With a `flushDelay`, output waits up to that long for more to join it before it is
/// written (never longer): fewer, larger writes for a bounded addition to latency.
///
/// Everything except `execute(_:)` and `stop()` must be called on the loop's thread.
public final class EventLoop: @unchecked Sendable {
    private let epollFD: Int32
    private let wakeFD: Int32
    private var handlers: [(handler: EventHandler?, generation: UInt32)] = []
    private var timers = TimerHeap()
    private var timerSequence: UInt64 = 0
    /// Sockets with output queued this iteration, each retained once while listed (one
    /// retain/release pair per socket per iteration; an array of strong references pays a
    /// second pair when iterated).
    private var dirtySockets: [Unmanaged<StreamSocket>] = []
    private var flushingSockets: [Unmanaged<StreamSocket>] = []
    /// With a flush delay: when each listed socket was marked (same order as `dirtySockets`,
    /// which is then a queue in deadline order), and the first one not flushed yet.
    private var dirtyMarkedAt: [UInt64] = []
    private var dirtyHead = 0

    /// Nanoseconds queued output may wait for more before it is written; 0 writes it at the
    /// end of the iteration that queued it. Set before the loop runs.
    public var flushDelay: UInt64 = 0
    private let tasks = Mutex<[@Sendable () -> Void]>([])
    private let stopRequested = Atomic<Bool>(false)
    /// Lets an iteration skip the task lock when no other thread queued anything.
    private let hasTasks = Atomic<Bool>(false)
    private var events: UnsafeMutablePointer<ts_epoll_event>
    private static let maxEventsPerWait = 1024

    /// Scratch space every socket reads into first: a connection only keeps bytes of its own
    /// when a read ends inside a frame, so idle connections cost no buffer.
    public let sharedReadBuffer: UnsafeMutableRawBufferPointer
    /// TLS sockets read ciphertext here, then decrypt it into `sharedReadBuffer`.
    let transportReadBuffer: UnsafeMutableRawBufferPointer
    /// Where TLS sockets gather queued frames into one record's plaintext.
    let transportStagingBuffer: UnsafeMutableRawBufferPointer
    /// Output chunks for copied writes, reused across connections.
    let bufferPool = BufferPool()
    /// Scratch iovec array for gathered writes, shared by all sockets of the loop.
    let iovecs: UnsafeMutablePointer<iovec>
    static let maxIovecs = 1024

    /// Monotonic time at the start of the current iteration, in nanoseconds.
    public private(set) var now: UInt64

    /// The thread that runs the loop: the one that created it until `run`/`runOnce` is first
    /// called elsewhere. Only debug builds track it (see `assertOnLoopThread`).
    @usableFromInline var ownerThread: pthread_t = pthread_self()

    /// Iteration times and timer lag, for metrics and readiness.
    public private(set) var statistics = LoopStatistics()
    private var lagProbe: Timer?
    private static let lagProbeInterval: UInt64 = 100_000_000

    public init(readBufferSize: Int = 256 * 1024) throws {
        epollFD = ts_epoll_create()
        guard epollFD >= 0 else { throw SystemError("epoll_create1") }
        wakeFD = ts_eventfd()
        guard wakeFD >= 0 else { throw SystemError("eventfd") }
        sharedReadBuffer = .allocate(byteCount: readBufferSize, alignment: 64)
        transportReadBuffer = .allocate(byteCount: 64 * 1024, alignment: 64)
        transportStagingBuffer = .allocate(byteCount: maxRecordPlaintext, alignment: 64)
        iovecs = .allocate(capacity: Self.maxIovecs)
        events = .allocate(capacity: Self.maxEventsPerWait)
        now = MonotonicClock.now()
        guard ts_epoll_ctl(epollFD, Int32(TS_EPOLL_CTL_ADD), wakeFD, EpollEvents.readable, UInt64(UInt32.max)) == 0 else {
            throw SystemError("epoll_ctl(eventfd)")
        }
    }

    deinit {
        Glibc.close(epollFD)
        Glibc.close(wakeFD)
        sharedReadBuffer.deallocate()
        transportReadBuffer.deallocate()
        transportStagingBuffer.deallocate()
        iovecs.deallocate()
        events.deallocate()
    }

    /// Stops a debug build when loop-only code runs on another thread, as NIO's
    /// `preconditionInEventLoop` does. Release builds skip the runtime exclusivity checks on
    /// the hot path, so this is the net that catches a cross-thread call while testing; it
    /// compiles to nothing in release.
    @inlinable
    public func assertOnLoopThread(file: StaticString = #fileID, line: UInt = #line) {
        #if DEBUG
        precondition(pthread_equal(pthread_self(), ownerThread) != 0,
                     "loop-only code called off the event loop's thread", file: file, line: line)
        #endif
    }

    // MARK: Registration

    /// Starts watching `fd` for `interest` (EpollEvents bits) on behalf of `handler`.
    public func register(_ fd: Int32, interest: UInt32, handler: EventHandler) throws {
        assertOnLoopThread()
        let slot = Int(fd)
        if slot >= handlers.count {
            // Grown by an eighth rather than doubled: descriptors are dense, so at 18,000
            // connections a doubled table would hold ~14,000 empty 24-byte slots.
            if slot >= handlers.capacity { handlers.reserveCapacity(slot + 1 + slot / 8) }
            handlers.append(contentsOf: repeatElement((handler: nil, generation: 0), count: slot + 1 - handlers.count))
        }
        handlers[slot].handler = handler
        handlers[slot].generation &+= 1
        guard ts_epoll_ctl(epollFD, Int32(TS_EPOLL_CTL_ADD), fd, interest, token(fd)) == 0 else {
            handlers[slot].handler = nil
            throw SystemError("epoll_ctl(ADD)")
        }
    }

    /// Changes what `fd` is watched for.
    public func modify(_ fd: Int32, interest: UInt32) {
        _ = ts_epoll_ctl(epollFD, Int32(TS_EPOLL_CTL_MOD), fd, interest, token(fd))
    }

    /// Stops watching `fd`. Call before closing it; events already fetched for it are dropped.
    public func unregister(_ fd: Int32) {
        _ = ts_epoll_ctl(epollFD, Int32(TS_EPOLL_CTL_DEL), fd, 0, 0)
        let slot = Int(fd)
        if slot < handlers.count {
            handlers[slot].handler = nil
            handlers[slot].generation &+= 1
        }
    }

    /// The epoll data word: the fd and its slot's generation, so an event fetched for a
    /// descriptor that was closed and reused within the same batch is recognised as stale.
    private func token(_ fd: Int32) -> UInt64 {
        UInt64(handlers[Int(fd)].generation) << 32 | UInt64(UInt32(bitPattern: fd))
    }

    // MARK: Timers and hooks

    /// Runs `body` on the loop after `delay` nanoseconds.
    @discardableResult
    public func schedule(after delay: UInt64, _ body: @escaping () -> Void) -> Timer {
        assertOnLoopThread()
        timerSequence &+= 1
        let timer = Timer(deadline: MonotonicClock.now() &+ delay, sequence: timerSequence, callback: body)
        timers.insert(timer)
        return timer
    }

    /// Runs `body` every `interval` nanoseconds until the timer is cancelled. The same timer
    /// object is re-armed each time, so a steady ticker (the simulator's 1 ms pacing)
    /// allocates nothing per tick. After a stall it fires once and resumes the cadence at its
    /// old phase. `first` is the first deadline (default: one interval from now).
    @discardableResult
    public func scheduleRepeating(every interval: UInt64, firstAt first: UInt64? = nil, _ body: @escaping () -> Void) -> Timer {
        precondition(interval > 0, "a repeating timer needs an interval")
        assertOnLoopThread()
        timerSequence &+= 1
        let timer = Timer(deadline: first ?? MonotonicClock.now() &+ interval, sequence: timerSequence, interval: interval, callback: body)
        timers.insert(timer)
        return timer
    }

    /// Queues `task` to run on the loop thread; callable from any thread.
    public func execute(_ task: @escaping @Sendable () -> Void) {
        tasks.withLock { $0.append(task) }
        hasTasks.store(true, ordering: .releasing)
        wakeUp()
    }

    /// Asks `run()` to return after the current iteration; callable from any thread.
    public func stop() {
        stopRequested.store(true, ordering: .releasing)
        wakeUp()
    }

    private func wakeUp() {
        var one: UInt64 = 1
        _ = Glibc.write(wakeFD, &one, 8)
    }

    /// Counts one write whose oldest bytes were queued at loop time `queuedAt`. Kept out of
    /// line so the flush path stays within the optimizer's inlining budget (docs/benchmarks-history.md,
    /// "instructions per delivery", has the measurement).
    @inline(never)
    func recordOutputWait(since queuedAt: UInt64, latencyClass: UInt8) {
        statistics.record(outputWait: MonotonicClock.now() &- queuedAt, latencyClass: latencyClass)
    }

    /// Counts one read that returned bytes.
    @inline(__always)
    func countRead(bytes: Int) {
        statistics.reads &+= 1
        statistics.bytesRead &+= UInt64(bytes)
    }

    /// Marks a socket to be flushed at the end of this iteration.
    func markDirty(_ socket: StreamSocket) {
        dirtySockets.append(Unmanaged.passRetained(socket))
        if flushDelay > 0 { dirtyMarkedAt.append(now) }
    }

    // MARK: Running

    /// Runs iterations until `stop()`.
    public func run() {
        while !stopRequested.load(ordering: .acquiring) {
            runOnce()
        }
        stopRequested.store(false, ordering: .relaxed)
    }

    /// One iteration; `maxWait` bounds the wait in milliseconds (-1: until an event or timer).
    public func runOnce(maxWait: Int32 = -1) {
        #if DEBUG
        ownerThread = pthread_self()
        #endif
        var timeout: Int64 = maxWait < 0 ? -1 : Int64(maxWait) * 1_000_000
        if dirtyHead < dirtySockets.count {
            if flushDelay == 0 {
                timeout = 0
            } else {
                let due = dirtyMarkedAt[dirtyHead] &+ flushDelay
                let current = MonotonicClock.now()
                let untilDue = due > current ? Int64(due - current) : 0
                timeout = timeout < 0 ? untilDue : min(timeout, untilDue)
            }
        }
        if let next = nextLiveTimer() {
            let current = MonotonicClock.now()
            let untilDue = next.deadline > current ? Int64(min(next.deadline - current, 60_000_000_000)) : 0
            timeout = timeout < 0 ? untilDue : min(timeout, untilDue)
        }
        let count = ts_epoll_wait(epollFD, events, Int32(Self.maxEventsPerWait), timeout)
        now = MonotonicClock.now()
        if count > 0 {
            for i in 0..<Int(count) {
                let event = events[i]
                if event.data == UInt64(UInt32.max) {
                    drainWakeups()
                    continue
                }
                let slot = Int(UInt32(truncatingIfNeeded: event.data))
                let generation = UInt32(truncatingIfNeeded: event.data >> 32)
                guard slot < handlers.count, handlers[slot].generation == generation,
                      let handler = handlers[slot].handler else { continue }
                handler.handleEvent(event.events)
            }
        }
        runDueTimers()
        runTasks()
        flushDirtySockets()
        statistics.record(iteration: MonotonicClock.now() &- now)
    }

    /// Starts measuring lag: a repeating timer every 100 ms records how late it fired. A loop
    /// stuck in long work shows up here before clients notice.
    public func startLagProbe() {
        lagProbe = scheduleRepeating(every: Self.lagProbeInterval) { [unowned(unsafe) self] in
            // Still the scheduled deadline: the timer is re-armed after this returns.
            guard let probe = self.lagProbe else { return }
            let late = MonotonicClock.now() &- probe.deadline
            self.statistics.lastLag = late
            self.statistics.lags.record(late)
        }
    }


    private func nextLiveTimer() -> Timer? {
        while let first = timers.earliest, !first.isPending { _ = timers.removeEarliest() }
        return timers.earliest
    }

    private func runDueTimers() {
        let current = MonotonicClock.now()
        while let first = timers.earliest, first.deadline <= current {
            _ = timers.removeEarliest()
            first.fire()
            if first.interval > 0 && first.isPending {
                // Keep the cadence and its phase; after a stall, skip the missed firings (a
                // ticker's batch boundaries stay where they were).
                first.deadline &+= first.interval
                if first.deadline <= current {
                    first.deadline &+= (current - first.deadline) / first.interval * first.interval + first.interval
                }
                timerSequence &+= 1
                first.sequence = timerSequence
                timers.insert(first)
            }
        }
    }

    private func drainWakeups() {
        var value: UInt64 = 0
        _ = Glibc.read(wakeFD, &value, 8)
    }

    private func runTasks() {
        guard hasTasks.exchange(false, ordering: .acquiringAndReleasing) else { return }
        let pending = tasks.withLock { queued -> [@Sendable () -> Void] in
            defer { queued.removeAll(keepingCapacity: true) }
            return queued
        }
        for task in pending { task() }
    }

    private func flushDirtySockets() {
        if flushDelay > 0 { return flushDueSockets() }
        // A flush can close a socket, whose delegate may queue output elsewhere: loop until quiet.
        while !dirtySockets.isEmpty {
            swap(&dirtySockets, &flushingSockets)
            for socket in flushingSockets {
                socket._withUnsafeGuaranteedRef { $0.flushIfDirty() }
                socket.release()
            }
            flushingSockets.removeAll(keepingCapacity: true)
        }
    }

    /// With a flush delay: flushes, oldest first, the sockets marked at least `flushDelay` ago.
    /// Sockets marked during these flushes (a close that queues output elsewhere) join the end.
    private func flushDueSockets() {
        let current = MonotonicClock.now()
        while dirtyHead < dirtySockets.count && dirtyMarkedAt[dirtyHead] &+ flushDelay <= current {
            let socket = dirtySockets[dirtyHead]
            dirtyHead += 1
            socket._withUnsafeGuaranteedRef { $0.flushIfDue(at: current, delay: flushDelay) }
            socket.release()
        }
        if dirtyHead == dirtySockets.count {
            dirtySockets.removeAll(keepingCapacity: true)
            dirtyMarkedAt.removeAll(keepingCapacity: true)
            dirtyHead = 0
        } else if dirtyHead >= 1024 && dirtyHead * 2 >= dirtySockets.count {
            dirtySockets.removeFirst(dirtyHead)
            dirtyMarkedAt.removeFirst(dirtyHead)
            dirtyHead = 0
        }
    }
}
