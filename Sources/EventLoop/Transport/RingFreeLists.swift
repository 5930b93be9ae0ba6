import ByteBuffers

/// The loop's free rings for output queues, by size class (capacities 8, 16, 32 and 64 frame
/// references), so a connection holds a ring only while it has output waiting: at 18,000
/// mostly idle connections, 128 bytes each that used to sit unused.
///
/// Every delivery to a quiet connection takes a ring and gives it back, so this is on the hot
/// path: the lists are threaded through the free rings themselves (a free ring keeps the next
/// one's address in its first word), and the type is a struct of raw pointers, passed without
/// reference counting. The `BufferPool` that owns it frees it.
struct RingFreeLists {
    /// Per size class: the first free ring, then how many are free; then rings made and taken.
    private let heads: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    private let counts: UnsafeMutablePointer<Int>
    /// Rings kept per size class: as many as connections have had output waiting at once, up
    /// to this bound (2,000 connections written in one tick hold 2,000 rings at that moment).
    static let limit = 8192
    private static let sizeClasses = 4

    init() {
        heads = .allocate(capacity: Self.sizeClasses)
        heads.initialize(repeating: nil, count: Self.sizeClasses)
        counts = .allocate(capacity: Self.sizeClasses + 2)
        counts.initialize(repeating: 0, count: Self.sizeClasses + 2)
    }

    /// Rings allocated so far.
    var created: Int { counts[Self.sizeClasses] }
    /// Rings handed out so far, from the lists or new.
    var taken: Int { counts[Self.sizeClasses + 1] }

    /// The list for a ring of `capacity` references, if it is a size the lists keep.
    @inline(__always)
    private static func sizeClass(_ capacity: Int) -> Int? {
        capacity >= 8 && capacity <= 64 ? capacity.trailingZeroBitCount &- 3 : nil
    }

    /// Uninitialized room for `capacity` frame references; `capacity` is a power of two ≥ 8.
    @inline(__always)
    func take(capacity: Int) -> UnsafeMutablePointer<Unmanaged<SharedBytes>> {
        counts[Self.sizeClasses + 1] &+= 1
        if let sizeClass = Self.sizeClass(capacity), let ring = heads[sizeClass] {
            heads[sizeClass] = ring.load(as: UnsafeMutableRawPointer?.self)
            counts[sizeClass] &-= 1
            return ring.assumingMemoryBound(to: Unmanaged<SharedBytes>.self)
        }
        counts[Self.sizeClasses] &+= 1
        return .allocate(capacity: capacity)
    }

    /// Takes back a ring whose references have all been moved out or released.
    @inline(__always)
    func recycle(_ ring: UnsafeMutablePointer<Unmanaged<SharedBytes>>, capacity: Int) {
        guard let sizeClass = Self.sizeClass(capacity), counts[sizeClass] < Self.limit else {
            ring.deallocate()
            return
        }
        let raw = UnsafeMutableRawPointer(ring)
        raw.storeBytes(of: heads[sizeClass], as: UnsafeMutableRawPointer?.self)
        heads[sizeClass] = raw
        counts[sizeClass] &+= 1
    }

    /// Frees every ring on the lists, and the lists.
    func deallocate() {
        for sizeClass in 0..<Self.sizeClasses {
            var ring = heads[sizeClass]
            while let current = ring {
                ring = current.load(as: UnsafeMutableRawPointer?.self)
                current.deallocate()
            }
        }
        heads.deallocate()
        counts.deallocate()
    }
}
