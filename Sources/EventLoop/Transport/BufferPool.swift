import ByteBuffers

/// A loop-wide free list of fixed-size output chunks, so the copies a connection writes
/// (echoes, pongs, handshake responses) reuse memory instead of allocating per frame; and the
/// free rings that hold a connection's queued frames.
final class BufferPool {
    static let chunkSize = 16 * 1024
    private var free: [SharedBytes] = []
    private let limit: Int
    /// Chunks allocated over the pool's life: stays flat while chunks come back to be reused.
    private(set) var chunksCreated = 0
    /// Chunks waiting to be reused.
    var freeCount: Int { free.count }

    init(limit: Int = 256) {
        self.limit = limit
        free.reserveCapacity(limit)
    }

    /// An empty chunk (count 0) of at least `minimumCapacity` bytes.
    func take(minimumCapacity: Int) -> SharedBytes {
        if minimumCapacity <= Self.chunkSize, let chunk = free.popLast() {
            return chunk
        }
        chunksCreated += 1
        let chunk = SharedBytes.make(count: max(minimumCapacity, Self.chunkSize)) { _ in }
        chunk.count = 0
        return chunk
    }

    /// The free rings, for output queues; see `RingFreeLists`.
    let rings = RingFreeLists()
    /// Rings allocated over the pool's life: stays flat while rings come back to be reused.
    var ringsCreated: Int { rings.created }
    /// Rings handed out, from the pool or new: one per burst of output on a connection that
    /// takes its ring at the size it needed last.
    var ringsTaken: Int { rings.taken }

    deinit { rings.deallocate() }

    /// Returns a chunk nobody else references.
    func recycle(_ chunk: SharedBytes) {
        guard free.count < limit, chunk.capacity >= Self.chunkSize, chunk.capacity < 2 * Self.chunkSize else { return }
        chunk.count = 0
        free.append(chunk)
    }
}
