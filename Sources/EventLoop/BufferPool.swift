import ByteBuffers

/// A loop-wide free list of fixed-size output chunks, so the copies a connection writes
/// (echoes, pongs, handshake responses) reuse memory instead of allocating per frame; and of
/// the rings that hold a connection's queued frames, so a connection holds a ring only while
/// it has output waiting (at 18,000 mostly idle connections, 128 bytes each that sat unused).
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

    /// Free rings by size class: capacities 8, 16, 32 and 64 references.
    private var freeRings: [[UnsafeMutablePointer<Unmanaged<SharedBytes>>]] = Array(repeating: [], count: 4)
    /// Rings kept per size class: as many as connections have had output waiting at once, up
    /// to this bound (2,000 connections written in one tick hold 2,000 rings at that moment).
    static let ringLimit = 8192
    /// Rings allocated over the pool's life: stays flat while rings come back to be reused.
    private(set) var ringsCreated = 0
    /// Rings handed out, from the pool or new: one per burst of output on a connection that
    /// takes its ring at the size it needed last.
    private(set) var ringsTaken = 0

    deinit {
        for rings in freeRings { for ring in rings { ring.deallocate() } }
    }

    @inline(__always)
    private static func ringClass(_ capacity: Int) -> Int? {
        switch capacity {
        case 8: 0
        case 16: 1
        case 32: 2
        case 64: 3
        default: nil
        }
    }

    /// Uninitialized room for `capacity` frame references; `capacity` is a power of two ≥ 8.
    func takeRing(capacity: Int) -> UnsafeMutablePointer<Unmanaged<SharedBytes>> {
        ringsTaken &+= 1
        if let sizeClass = Self.ringClass(capacity), let ring = freeRings[sizeClass].popLast() { return ring }
        ringsCreated += 1
        return .allocate(capacity: capacity)
    }

    /// Takes back a ring whose references have all been moved out or released.
    func recycleRing(_ ring: UnsafeMutablePointer<Unmanaged<SharedBytes>>, capacity: Int) {
        guard let sizeClass = Self.ringClass(capacity), freeRings[sizeClass].count < Self.ringLimit else {
            ring.deallocate()
            return
        }
        freeRings[sizeClass].append(ring)
    }

    /// Returns a chunk nobody else references.
    func recycle(_ chunk: SharedBytes) {
        guard free.count < limit, chunk.capacity >= Self.chunkSize, chunk.capacity < 2 * Self.chunkSize else { return }
        chunk.count = 0
        free.append(chunk)
    }
}
