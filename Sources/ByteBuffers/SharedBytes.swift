/// The header of a `SharedBytes` allocation.
public struct SharedBytesHeader {
    /// Bytes in use.
    public var count: Int
}

/// Reference-counted bytes: one allocation holding a small header and the bytes.
///
/// A frame is built into one of these once and then queued by reference to every connection
/// that should receive it; nothing is copied until the kernel copies it in sendmsg. Shared
/// buffers are immutable once built. The only ones that change are a connection's private
/// output chunks, which only grow at the end, past what sendmsg has been given.
public final class SharedBytes: ManagedBuffer<SharedBytesHeader, UInt8> {
    /// Allocates `count` bytes and lets `initialize` write all of them. The bytes must not be
    /// changed after this returns.
    public static func make(count: Int, _ initialize: (UnsafeMutableRawBufferPointer) -> Void) -> SharedBytes {
        let buffer = unsafeDowncast(
            SharedBytes.create(minimumCapacity: count, makingHeaderWith: { _ in SharedBytesHeader(count: count) }),
            to: SharedBytes.self)
        buffer.withUnsafeMutablePointerToElements { initialize(UnsafeMutableRawBufferPointer(start: $0, count: count)) }
        return buffer
    }

    /// A copy of `bytes`, for cold paths (handshake responses, control frames).
    public static func copying(_ bytes: some Collection<UInt8>) -> SharedBytes {
        make(count: bytes.count) { destination in _ = destination.initializeMemory(as: UInt8.self, from: bytes) }
    }

    /// Bytes in use. Only the owner of a private output chunk changes it.
    public var count: Int {
        get { header.count }
        set { header.count = newValue }
    }

    /// Read access; the pointer is valid only inside `body`.
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeMutablePointerToElements { try body(UnsafeRawBufferPointer(start: $0, count: header.count)) }
    }

    /// The start of the bytes. Valid while this object is alive, which a queue guarantees by
    /// holding a reference until the bytes are written.
    public var baseAddress: UnsafeRawPointer {
        UnsafeRawPointer(withUnsafeMutablePointerToElements { $0 })
    }
}
