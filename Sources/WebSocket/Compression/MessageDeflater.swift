import ByteBuffers
import CZlib

/// Compresses whole messages for permessage-deflate, each one alone (no context taken over
/// from the previous message), so the result can be framed once and sent to any number of
/// peers. One per loop and window size serves every connection.
public final class MessageDeflater {
    /// LZ77 window, 2^bits bytes: at most the peer's `*_max_window_bits`.
    public let windowBits: Int
    private let stream: UnsafeMutablePointer<z_stream>
    private var output = GrowableBuffer()
    /// Output space kept between messages (one deflater serves a whole loop).
    private static let retainedCapacity = 256 * 1024

    /// zlib's memLevel: the size of its match hash table, 2^(memLevel+7) entries, which zlib
    /// clears for every message compressed alone.
    public let memoryLevel: Int

    /// zlib level 1...9. Window bits 9...15 (zlib cannot do 8). `memoryLevel` 1...9: small
    /// messages need only a small hash table, and a small one is cheap to clear per message
    /// (at 8, zlib's default, the clear is a 64 KiB memset per message).
    public init(windowBits: Int = 15, level: Int = 6, memoryLevel: Int = 8) {
        precondition((9...15).contains(windowBits) && (1...9).contains(level) && (1...9).contains(memoryLevel))
        self.windowBits = windowBits
        self.memoryLevel = memoryLevel
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let status = ts_deflate_init_raw(stream, Int32(level), Int32(windowBits), Int32(memoryLevel))
        precondition(status == Z_OK, "deflateInit2 failed: \(status)")
    }

    /// zlib's documented need for a raw deflate stream, plus its state struct.
    public static func estimatedStateBytes(windowBits: Int, memoryLevel: Int) -> Int {
        (1 << (windowBits + 2)) + (1 << (memoryLevel + 9)) + 6 * 1024
    }

    /// State and output space held now.
    public var estimatedMemoryBytes: Int { Self.estimatedStateBytes(windowBits: windowBits, memoryLevel: memoryLevel) + output.capacity }

    deinit {
        deflateEnd(stream)
        stream.deallocate()
    }

    /// The compressed form of `payload` as RFC 7692 §7.2.1 sends it (the final empty stored
    /// block's 00 00 FF FF removed). Valid until the next call.
    public func compress(_ payload: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        output.trim(above: Self.retainedCapacity)
        deflateReset(stream)
        let bound = Int(deflateBound(stream, UInt(payload.count))) + 16
        output.reserve(bound, keeping: 0)
        stream.pointee.next_in = UnsafeMutablePointer(mutating: payload.baseAddress?.assumingMemoryBound(to: UInt8.self))
        stream.pointee.avail_in = UInt32(payload.count)
        var produced = 0
        while true {
            stream.pointee.next_out = output.base!.advanced(by: produced).assumingMemoryBound(to: UInt8.self)
            stream.pointee.avail_out = UInt32(output.capacity - produced)
            let status = deflate(stream, Z_SYNC_FLUSH)
            produced = output.capacity - Int(stream.pointee.avail_out)
            precondition(status == Z_OK || status == Z_BUF_ERROR, "deflate failed: \(status)")
            // Done when all input is taken and the flush fitted (room left over).
            if stream.pointee.avail_in == 0 && stream.pointee.avail_out > 0 { break }
            output.reserve(output.capacity * 2, keeping: produced)
        }
        stream.pointee.next_in = nil
        return UnsafeRawBufferPointer(start: output.base, count: produced - 4)
    }
}
