import COpenSSL

/// An OpenSSL BIO that moves ciphertext between OpenSSL and a `TLSChannel` without buffers of
/// its own: reads come from the batch the socket just read (shared by the whole loop), writes go
/// straight into the socket's pooled output. A memory BIO pair would keep two growable buffers
/// alive per connection, idle or not.
enum RecordBIO {
    /// Created once for the process; OpenSSL keeps a pointer to it in every BIO.
    nonisolated(unsafe) static let method: OpaquePointer = {
        let method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "tickstream-record")!
        BIO_meth_set_write(method, write)
        BIO_meth_set_read(method, read)
        BIO_meth_set_ctrl(method, control)
        BIO_meth_set_create(method, create)
        BIO_meth_set_destroy(method, destroy)
        return method
    }()

    /// A BIO that serves `channel` (held unretained: the channel owns the SSL, which owns the BIO).
    static func make(for channel: TLSChannel) -> OpaquePointer {
        let bio = BIO_new(method)!
        BIO_set_data(bio, Unmanaged.passUnretained(channel).toOpaque())
        return bio
    }

    private static func channel(_ bio: OpaquePointer?) -> TLSChannel {
        Unmanaged<TLSChannel>.fromOpaque(BIO_get_data(bio)!).takeUnretainedValue()
    }

    private static let write: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?, Int32) -> Int32 = { bio, data, length in
        ts_bio_clear_retry_flags(bio)
        guard let data, length > 0 else { return 0 }
        channel(bio).emit(UnsafeRawBufferPointer(start: data, count: Int(length)))
        return length
    }

    private static let read: @convention(c) (OpaquePointer?, UnsafeMutablePointer<CChar>?, Int32) -> Int32 = { bio, data, length in
        ts_bio_clear_retry_flags(bio)
        guard let data, length > 0 else { return 0 }
        let count = channel(bio).take(into: UnsafeMutableRawBufferPointer(start: data, count: Int(length)))
        if count == 0 {
            // Not an end of stream: nothing until the socket reads more.
            ts_bio_set_retry_read(bio)
            return -1
        }
        return Int32(count)
    }

    private static let control: @convention(c) (OpaquePointer?, Int32, Int, UnsafeMutableRawPointer?) -> Int = { _, command, _, _ in
        // Output is never buffered here, so a flush always succeeds; nothing else is supported.
        command == BIO_CTRL_FLUSH ? 1 : 0
    }

    private static let create: @convention(c) (OpaquePointer?) -> Int32 = { bio in
        BIO_set_init(bio, 1)
        return 1
    }

    private static let destroy: @convention(c) (OpaquePointer?) -> Int32 = { _ in 1 }
}
