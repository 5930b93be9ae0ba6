import ByteBuffers
import Glibc

/// A socket's TLS: the transport, and the records it sealed that the socket has not sent yet.
final class SecureChannel: TransportOutput {
    let security: TransportSecurity
    var sealed = OutboundQueue()
    private let pool: BufferPool
    private var closeNotifySent = false
    /// How far sealing may run ahead of the socket: past this, records wait for the socket.
    private static let sealAhead = 256 * 1024

    init(security: TransportSecurity, pool: BufferPool) {
        self.security = security
        self.pool = pool
        security.output = self
    }

    func transportWrite(_ bytes: UnsafeRawBufferPointer) {
        sealed.appendCopy(count: bytes.count, pool: pool) { $0.copyMemory(from: bytes) }
    }

    /// Seals queued plaintext into records of up to `maxRecordPlaintext` bytes (many frames
    /// each) and writes the records with one gathered sendmsg. Returns the bytes written.
    /// When `closing`, ends with close_notify once the plaintext is out.
    func flush(plaintext queue: inout OutboundQueue, fd: Int32, loop: EventLoop, closing: Bool) -> Swift.Result<Int, SystemError> {
        var total = 0
        while true {
            if security.isEstablished {
                let staging = loop.transportStagingBuffer
                while !queue.isEmpty && sealed.byteCount < Self.sealAhead {
                    let count = queue.copyFront(into: staging)
                    security.writePlaintext(UnsafeRawBufferPointer(rebasing: staging[0..<count]))
                    queue.consume(count, pool: pool)
                }
                if closing && queue.isEmpty && !closeNotifySent {
                    closeNotifySent = true
                    security.closeNotify()
                }
            }
            if sealed.isEmpty { return .success(total) }
            switch sealed.write(to: fd, iovecs: loop.iovecs, maxIovecs: EventLoop.maxIovecs, pool: pool) {
            case .failure(let error): return .failure(error)
            case .success(let written): total += written
            }
            // The socket is full, or everything is out.
            if !sealed.isEmpty || queue.isEmpty || !security.isEstablished { return .success(total) }
        }
    }
}
