import Glibc

/// Waits for a non-blocking connect to finish and reports the connected descriptor or the
/// error, then steps aside so a `StreamSocket` can take the descriptor over.
public final class Connector: EventHandler {
    public let fd: Int32
    private unowned let loop: EventLoop
    private var completion: ((Result<Int32, SystemError>) -> Void)?

    /// Starts connecting to `address`, from `source` if given (to spread client ports over
    /// several loopback addresses).
    public init(loop: EventLoop, to address: SocketAddress, from source: SocketAddress? = nil,
                completion: @escaping (Result<Int32, SystemError>) -> Void) throws {
        self.loop = loop
        self.fd = try Socket.connect(to: address, from: source)
        self.completion = completion
        try loop.register(fd, interest: EpollEvents.writable, handler: self)
    }

    public func handleEvent(_ events: UInt32) {
        guard let completion else { return }
        self.completion = nil
        loop.unregister(fd)
        let error = Socket.pendingError(fd)
        if error == 0 {
            completion(.success(fd))
        } else {
            _ = Glibc.close(fd)
            completion(.failure(SystemError("connect", errno: error)))
        }
    }
}
