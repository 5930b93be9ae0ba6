import ByteBuffers
import DequeModule
import Glibc

/// A connection's pending output: references to shared frames, the first possibly part-sent.
/// Flushing gathers up to 1024 of them into one sendmsg.
struct OutboundQueue {
    private var entries = Deque<SharedBytes>()
    /// Bytes of the first entry already written.
    private var headOffset = 0
    /// Bytes queued and not yet written.
    private(set) var byteCount = 0
    /// Whether the last entry is a private chunk that copies may be appended to.
    private var tailIsPrivate = false

    var isEmpty: Bool { entries.isEmpty }
    var frameCount: Int { entries.count }

    mutating func append(_ bytes: SharedBytes) {
        guard bytes.count > 0 else { return }
        entries.append(bytes)
        byteCount += bytes.count
        tailIsPrivate = false
    }

    /// Appends `count` bytes written by `write`, into the private chunk at the tail when it
    /// has room, else into a new chunk from `pool`.
    mutating func appendCopy(count: Int, pool: BufferPool, _ write: (UnsafeMutableRawBufferPointer) -> Void) {
        guard count > 0 else { return }
        if !tailIsPrivate || entries.last!.capacity - entries.last!.count < count {
            entries.append(pool.take(minimumCapacity: count))
            tailIsPrivate = true
        }
        let chunk = entries.last!
        let start = chunk.count
        chunk.withUnsafeMutablePointerToElements { base in
            write(UnsafeMutableRawBufferPointer(start: base + start, count: count))
        }
        chunk.count = start + count
        byteCount += count
    }

    /// Removes every queued frame that `keep` rejects, except a part-sent head (its remaining
    /// bytes must still go out, or the stream would be corrupt). Used to conflate a slow
    /// consumer's backlog.
    mutating func removeAll(where shouldRemove: (SharedBytes) -> Bool) {
        guard entries.count > (headOffset > 0 ? 1 : 0) else { return }
        var kept = Deque<SharedBytes>()
        kept.reserveCapacity(entries.count)
        var bytes = 0
        for (index, entry) in entries.enumerated() {
            if index == 0 && headOffset > 0 || !shouldRemove(entry) || isPrivateTail(index) {
                kept.append(entry)
                bytes += entry.count
            }
        }
        entries = kept
        byteCount = bytes - headOffset
    }

    private func isPrivateTail(_ index: Int) -> Bool { tailIsPrivate && index == entries.count - 1 }

    /// Writes as much as the socket takes (one sendmsg of up to `maxIovecs` buffers per round). Returns the bytes written, 0 when the socket is
    /// full, or the errno of a failure.
    mutating func write(to fd: Int32, iovecs: UnsafeMutablePointer<iovec>, maxIovecs: Int,
                        pool: BufferPool) -> Swift.Result<Int, SystemError> {
        var total = 0
        while !entries.isEmpty {
            var count = 0
            var offset = headOffset
            for entry in entries {
                if count == maxIovecs { break }
                iovecs[count] = iovec(iov_base: UnsafeMutableRawPointer(mutating: entry.baseAddress + offset),
                                      iov_len: entry.count - offset)
                offset = 0
                count += 1
            }
            // sendmsg, not writev: for a socket, writev detours through the VFS layer and the
            // file-position lock (~7% of the gateway at 1 M messages/s in perf).
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
            if count < maxIovecs && !entries.isEmpty { break }  // short write: the socket is full
        }
        return .success(total)
    }

    private mutating func consume(_ written: Int, pool: BufferPool) {
        var remaining = written
        byteCount -= written
        while remaining > 0, let headCount = entries.first?.count {
            let left = headCount - headOffset
            if remaining >= left {
                remaining -= left
                headOffset = 0
                if entries.count == 1 { tailIsPrivate = false }
                // Popped straight into a local: no other binding may hold it, or the uniqueness
                // check below fails and the chunk is lost to the pool.
                var popped = entries.removeFirst()
                if isKnownUniquelyReferenced(&popped) { pool.recycle(popped) }
            } else {
                headOffset += remaining
                remaining = 0
            }
        }
    }

    mutating func removeAll() {
        tailIsPrivate = false
        entries = Deque()
        headOffset = 0
        byteCount = 0
    }
}
