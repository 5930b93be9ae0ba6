/// Bytes owned by one user that grow as a message needs and are given back when it is done
/// (`trim(above:)`), so a large message does not pin its peak and an idle owner can hold
/// nothing at all. No field beyond the pointer and the capacity: a socket has one. Used for a socket's unconsumed input, a reader's fragments and
/// the compressors' output.
public struct GrowableBuffer: ~Copyable {
    public private(set) var base: UnsafeMutableRawPointer?
    public private(set) var capacity = 0

    public init() {}

    deinit { base?.deallocate() }

    /// Makes room for at least `needed` bytes, keeping the first `keep`.
    public mutating func reserve(_ needed: Int, keeping keep: Int) {
        guard needed > capacity else { return }
        let grown = UnsafeMutableRawPointer.allocate(byteCount: needed, alignment: 16)
        if let base {
            grown.copyMemory(from: base, byteCount: keep)
            base.deallocate()
        }
        base = grown
        capacity = needed
    }

    /// Called when the bytes are no longer needed: frees them if there are more than `limit`.
    public mutating func trim(above limit: Int) {
        if capacity > limit { release() }
    }

    /// Frees the bytes whatever their size.
    public mutating func release() {
        base?.deallocate()
        base = nil
        capacity = 0
    }
}
