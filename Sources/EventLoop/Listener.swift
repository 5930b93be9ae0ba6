import CShims
import Glibc

/// Accepts TCP connections on a listening socket and hands each new descriptor to `onAccept`,
/// non-blocking with TCP_NODELAY set.
///
/// When the process runs out of descriptors (EMFILE/ENFILE) it stops accepting for a moment
/// instead of spinning on a listener that stays readable.
public final class Listener: EventHandler {
    public let fd: Int32
    public unowned let loop: EventLoop
    private let onAccept: (Int32) -> Void
    private let onError: (SystemError) -> Void
    private var paused = false
    private static let acceptsPerEvent = 64
    private static let pauseAfterExhaustion: UInt64 = 100_000_000

    /// Watches an already listening, non-blocking socket.
    public init(fd: Int32, loop: EventLoop, onAccept: @escaping (Int32) -> Void,
                onError: @escaping (SystemError) -> Void = { _ in }) throws {
        self.fd = fd
        self.loop = loop
        self.onAccept = onAccept
        self.onError = onError
        try loop.register(fd, interest: EpollEvents.readable, handler: self)
    }

    public var localAddress: SocketAddress? { Socket.localAddress(fd) }

    /// A bounded batch per readiness event, so one busy listener cannot starve the loop.
    public func handleEvent(_ events: UInt32) {
        acceptPending(limit: Self.acceptsPerEvent)
    }

    /// Accepts every connection already queued (before the listener is closed, so none of
    /// them is reset), stopping only when the queue is empty or accepting fails.
    public func acceptAllPending() {
        acceptPending(limit: .max)
    }

    private func acceptPending(limit: Int) {
        var accepted = 0
        while accepted < limit {
            let client = ts_accept(fd)
            if client >= 0 {
                try? Socket.setOption(client, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
                onAccept(client)
                accepted += 1
                continue
            }
            let error = errno
            switch error {
            case EAGAIN, EWOULDBLOCK: return
            case EINTR, ECONNABORTED, EPROTO: continue
            case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                onError(SystemError("accept4", errno: error))
                pause()
                return
            default:
                onError(SystemError("accept4", errno: error))
                return
            }
        }
    }

    private func pause() {
        guard !paused else { return }
        paused = true
        loop.modify(fd, interest: 0)
        loop.schedule(after: Self.pauseAfterExhaustion) { [weak self] in
            guard let self, self.paused else { return }
            self.paused = false
            self.loop.modify(self.fd, interest: EpollEvents.readable)
        }
    }

    /// Stops accepting and closes the listening socket.
    public func close() {
        loop.unregister(fd)
        Glibc.close(fd)
    }

    /// Stops watching without closing, for handing the socket to another process.
    public func detach() {
        loop.unregister(fd)
    }
}
