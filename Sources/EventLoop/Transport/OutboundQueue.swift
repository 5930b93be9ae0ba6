import ByteBuffers
import Glibc

/// A connection's pending output: references to shared frames, the first possibly part-sent.
/// Flushing gathers up to 1024 of them into one sendmsg.
///
/// A ring of unmanaged references rather than a Deque: each queued frame costs exactly one
/// retain when queued and one release when written (the generic container paid two retains).
/// The ring comes from the loop's free rings (`RingFreeLists`) when output is queued and goes
/// back when the last byte is written, so an idle connection holds no storage at all.
struct OutboundQueue: ~Copyable {
    private var slots: UnsafeMutablePointer<Unmanaged<SharedBytes>>?
    private var capacity = 0
    private var head = 0
    private(set) var frameCount = 0
    /// Bytes of the first entry already written.
    private var headOffset = 0
    /// Bytes queued and not yet written.
    private(set) var byteCount = 0
    /// Whether the last entry is a private chunk that copies may be appended to.
    private var tailIsPrivate = false
    /// log2 of the ring size this queue needed last (8 to 64): its next ring is taken at that
    /// size, so a connection that gets ten frames a tick does not grow a ring of 8 every tick.
    private var ringShift: UInt8 = 3

    init() {}

    deinit {
        for i in 0..<frameCount { slots![slot(i)].release() }
        slots?.deallocate()
    }

    var isEmpty: Bool { frameCount == 0 }

    @inline(__always)
    private func slot(_ index: Int) -> Int { (head + index) & (capacity - 1) }

    @inline(__always)
    private func entry(_ index: Int) -> SharedBytes { slots![slot(index)].takeUnretainedValue() }

    // Out of line, like `returnRing`: kept out of the paths that queue and write each frame,
    // so those stay small enough to be inlined into the loop's flush.
    @inline(never)
    private mutating func grow(rings: RingFreeLists) {
        if capacity == 0 {
            // A burst of output starts: a ring of the size this queue needed last.
            capacity = 1 << Int(ringShift)
            slots = rings.take(capacity: capacity)
            return
        }
        let newCapacity = capacity * 2
        ringShift = UInt8(min(newCapacity.trailingZeroBitCount, 6))
        let grown = rings.take(capacity: newCapacity)
        for i in 0..<frameCount { (grown + i).initialize(to: slots![slot(i)]) }
        if let slots { rings.recycle(slots, capacity: capacity) }
        slots = grown
        capacity = newCapacity
        head = 0
    }

    @inline(__always)
    mutating func append(_ bytes: SharedBytes, rings: RingFreeLists) {
        guard bytes.count > 0 else { return }
        push(Unmanaged.passRetained(bytes), rings: rings)
        byteCount += bytes.count
        tailIsPrivate = false
    }

    @inline(__always)
    private mutating func push(_ reference: Unmanaged<SharedBytes>, rings: RingFreeLists) {
        if frameCount == capacity { grow(rings: rings) }
        (slots! + slot(frameCount)).initialize(to: reference)
        frameCount += 1
    }

    /// Appends `count` bytes written by `write`, into the private chunk at the tail when it
    /// has room, else into a new chunk from `pool`.
    mutating func appendCopy(count: Int, pool: BufferPool, _ write: (UnsafeMutableRawBufferPointer) -> Void) {
        guard count > 0 else { return }
        if !tailIsPrivate || entry(frameCount - 1).capacity - entry(frameCount - 1).count < count {
            push(Unmanaged.passRetained(pool.take(minimumCapacity: count)), rings: pool.rings)
            tailIsPrivate = true
        }
        let chunk = entry(frameCount - 1)
        let start = chunk.count
        chunk.withUnsafeMutablePointerToElements { base in
            write(UnsafeMutableRawBufferPointer(start: base + start, count: count))
        }
        chunk.count = start + count
        byteCount += count
    }

    /// Writes as much as the socket takes (one sendmsg of up to `maxIovecs` buffers per round).
    /// Returns the bytes written, 0 when the socket is full, or the error of a failure.
    mutating func write(to fd: Int32, iovecs: UnsafeMutablePointer<iovec>, maxIovecs: Int,
                        pool: BufferPool) -> Swift.Result<Int, SystemError> {
        var total = 0
        while frameCount > 0 {
            let count = min(frameCount, maxIovecs)
            for i in 0..<count {
                let frame = entry(i)
                let offset = i == 0 ? headOffset : 0
                iovecs[i] = iovec(iov_base: UnsafeMutableRawPointer(mutating: frame.baseAddress + offset),
                                  iov_len: frame.count - offset)
            }
            // sendmsg, not writev: for a socket, writev detours through the VFS layer and the
            // file-position lock.
            var message = msghdr()
            message.msg_iov = iovecs
            message.msg_iovlen = count
            let written = sendmsg(fd, &message, Int32(MSG_NOSIGNAL))
            if written < 0 {
                let error = errno
                if error == EAGAIN || error == EWOULDBLOCK { return .success(total) }
                if error == EINTR { continue }
                return .failure(SystemError("sendmsg", errno: error))
            }
            consume(written, pool: pool)
            total += written
            if count < maxIovecs && frameCount > 0 { break }  // short write: the socket is full
        }
        return .success(total)
    }

    /// Copies queued bytes from the front into `destination` without removing them (a TLS
    /// record gathers several frames). Returns how many were copied.
    func copyFront(into destination: UnsafeMutableRawBufferPointer) -> Int {
        var copied = 0
        var index = 0
        while index < frameCount && copied < destination.count {
            let frame = entry(index)
            let offset = index == 0 ? headOffset : 0
            let take = min(frame.count - offset, destination.count - copied)
            (destination.baseAddress! + copied).copyMemory(from: frame.baseAddress + offset, byteCount: take)
            copied += take
            index += 1
        }
        return copied
    }

    /// Removes `count` bytes from the front: they were written, or sealed into a record.
    mutating func consume(_ written: Int, pool: BufferPool) {
        var remaining = written
        byteCount -= written
        while remaining > 0 && frameCount > 0 {
            let left = entry(0).count - headOffset
            if remaining >= left {
                remaining -= left
                headOffset = 0
                if frameCount == 1 { tailIsPrivate = false }
                // Take our +1 into a local: then a chunk nobody else holds is unique and can
                // go back to the pool (shared frames are exact-size and never qualify).
                var popped = slots![head].takeRetainedValue()
                head = (head + 1) & (capacity - 1)
                frameCount -= 1
                if isKnownUniquelyReferenced(&popped) { pool.recycle(popped) }
                if frameCount == 0 { returnRing(to: pool.rings) }
            } else {
                headOffset += remaining
                remaining = 0
            }
        }
    }

    @inline(never)
    private mutating func returnRing(to rings: RingFreeLists) {
        if let slots { rings.recycle(slots, capacity: capacity) }
        slots = nil
        capacity = 0
        head = 0
    }

    mutating func removeAll() {
        for i in 0..<frameCount { slots![slot(i)].release() }
        slots?.deallocate()
        slots = nil
        capacity = 0
        head = 0
        frameCount = 0
        tailIsPrivate = false
        headOffset = 0
        byteCount = 0
    }
}
