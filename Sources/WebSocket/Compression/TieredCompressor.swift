/// Compresses short messages with `FastDeflater` and long ones with zlib: past about a kilobyte
/// (a deep order book), zlib's per-message cost is shared by many more bytes and its dynamic
/// Huffman codes save a quarter more of them (docs/benchmarks-history.md).
public final class TieredCompressor: MessageCompressor {
    /// Messages from this size up go to zlib.
    public let threshold: Int
    private let small = FastDeflater()
    private let large: MessageDeflater

    /// zlib within the same 512-byte window, so the output suits the same peers.
    public init(threshold: Int = 1024) {
        self.threshold = threshold
        large = MessageDeflater(windowBits: 9, level: 6, memoryLevel: 2)
    }

    public func compress(_ payload: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        payload.count < threshold ? small.compress(payload) : large.compress(payload)
    }

    public var estimatedMemoryBytes: Int { small.estimatedMemoryBytes + large.estimatedMemoryBytes }
}
