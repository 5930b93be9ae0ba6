import ByteBuffers
import CZlib

/// Decompresses permessage-deflate messages with the size limit applied to the output: a
/// message that inflates past `limit` stops there (a decompression bomb costs at most the
/// limit, never its full size).
///
/// When the sender resets its compressor per message (`*_no_context_takeover`), one inflater
/// per loop serves every connection; otherwise a connection needs its own, which keeps the
/// sender's window (2^bits bytes) between messages.
public final class MessageInflater {
    public enum Failure: Error, Sendable, Equatable {
        /// The inflated message is larger than the limit (close 1009).
        case tooBig
        /// Not a valid deflate stream (close 1007).
        case corrupt
    }

    private let stream: UnsafeMutablePointer<z_stream>
    private let windowBits: Int
    private var output = GrowableBuffer()
    private let retainedCapacity: Int
    /// Set after a stream ended with a final block: the next message starts afresh.
    private var ended = false
    private static let tail: [UInt8] = [0x00, 0x00, 0xFF, 0xFF]

    /// `retainedCapacity`: output space kept between messages (a shared inflater can keep more
    /// than one owned by a connection).
    public init(windowBits: Int = 15, retainedCapacity: Int = 64 * 1024) {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        self.windowBits = windowBits
        self.retainedCapacity = retainedCapacity
        let status = ts_inflate_init_raw(stream, Int32(windowBits))
        precondition(status == Z_OK, "inflateInit2 failed: \(status)")
    }

    /// zlib's window (allocated at the first message) and state, plus output space held now.
    public var estimatedMemoryBytes: Int { (1 << windowBits) + 7 * 1024 + output.capacity }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
    }

    /// Inflates one message. `keepContext`: the sender takes its window over from the previous
    /// message (so must we). The result is valid until the next call.
    public func inflate(_ payload: UnsafeRawBufferPointer, limit: Int, keepContext: Bool) -> Result<UnsafeRawBufferPointer, Failure> {
        output.trim(above: retainedCapacity)
        if !keepContext || ended {
            inflateReset(stream)
            ended = false
        }
        var produced = 0
        let outcome = feed(payload, limit: limit, produced: &produced)
            ?? Self.tail.withUnsafeBytes { feed($0, limit: limit, produced: &produced) }
        if let outcome { return .failure(outcome) }
        return .success(UnsafeRawBufferPointer(start: output.base, count: produced))
    }

    private func feed(_ input: UnsafeRawBufferPointer, limit: Int, produced: inout Int) -> Failure? {
        guard !ended else { return nil }  // bytes after a final block are not part of the message
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: UInt8.self))
        stream.pointee.avail_in = UInt32(input.count)
        defer { stream.pointee.next_in = nil }
        while true {
            if output.capacity - produced == 0 {
                // Room for one byte past the limit: producing it proves the message too big.
                output.reserve(min(max(output.capacity * 2, 4096), limit + 1), keeping: produced)
            }
            stream.pointee.next_out = output.base!.advanced(by: produced).assumingMemoryBound(to: UInt8.self)
            stream.pointee.avail_out = UInt32(output.capacity - produced)
            let status = zlibInflate(stream, Z_SYNC_FLUSH)
            produced = output.capacity - Int(stream.pointee.avail_out)
            if produced > limit { return .tooBig }
            switch status {
            case Z_STREAM_END:
                ended = true
                return nil
            case Z_OK, Z_BUF_ERROR:
                if stream.pointee.avail_out == 0 { continue }  // output full: grow, go on
                if stream.pointee.avail_in == 0 { return nil }  // all of this input taken
                if status == Z_BUF_ERROR { return .corrupt }
            default:
                // Z_DATA_ERROR, or Z_NEED_DICT (RFC 7692 has no preset dictionary).
                return .corrupt
            }
        }
    }
}

/// zlib's `inflate`, under a name that does not clash with the method.
@inline(__always)
private func zlibInflate(_ stream: UnsafeMutablePointer<z_stream>, _ flush: Int32) -> Int32 {
    CZlib.inflate(stream, flush)
}
