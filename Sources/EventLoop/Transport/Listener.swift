import CShims
import Glibc

/// Accepts TCP connections on a listening socket and hands each new descriptor, non-blocking
/// with TCP_NODELAY set, and its peer's address to `onAccept`.
///
/// When the process runs out of descriptors (EMFILE/ENFILE) it does not spin on a listener
/// that stays readable, and it does not leave clients hanging in the queue: it keeps one
/// descriptor in reserve, gives it up to accept the waiting connection, hands that one to
/// `onRefuse` (which closes it), and takes the reserve back. Only if the reserve cannot be
/// taken back does it stop accepting for a moment.
public final class Listener: EventHandler {
    public let fd: Int32
    public unowned let loop: EventLoop
    private let onAccept: (Int32, SocketAddress) -> Void
    private let onRefuse: (Int32) -> Void
    private let onError: (SystemError) -> Void
    private var paused = false
    /// /dev/null, held so that a descriptor is free when the process has run out.
    private var reserve: Int32
    private static let acceptsPerEvent = 64
    private static let pauseAfterExhaustion: UInt64 = 100_000_000

    /// Watches an already listening, non-blocking socket. `onRefuse` gets connections accepted
    /// only to be turned away because the process is out of descriptors; it must close them.
    public init(fd: Int32, loop: EventLoop, onAccept: @escaping (Int32, SocketAddress) -> Void,
                onRefuse: @escaping (Int32) -> Void = { Glibc.close($0) },
                onError: @escaping (SystemError) -> Void = { _ in }) throws {
        self.fd = fd
        self.loop = loop
        self.onAccept = onAccept
        self.onRefuse = onRefuse
        self.onError = onError
        reserve = Self.openReserve()
        try loop.register(fd, interest: EpollEvents.readable, handler: self)
    }

    private static func openReserve() -> Int32 { open("/dev/null", O_RDONLY | O_CLOEXEC) }

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
        var peer = sockaddr_storage()
        var peerLength = socklen_t(0)
        while accepted < limit {
            let client = ts_accept(fd, &peer, &peerLength)
            if client >= 0 {
                try? Socket.setOption(client, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
                onAccept(client, SocketAddress(storage: peer, length: peerLength))
                accepted += 1
                continue
            }
            let error = errno
            switch error {
            case EAGAIN, EWOULDBLOCK: return
            case EINTR, ECONNABORTED, EPROTO: continue
            case EMFILE, ENFILE:
                onError(SystemError("accept4", errno: error))
                guard refuseWithReserve() else { return }
                accepted += 1
            case ENOBUFS, ENOMEM:
                onError(SystemError("accept4", errno: error))
                pause()
                return
            default:
                onError(SystemError("accept4", errno: error))
                return
            }
        }
    }

    /// Out of descriptors: frees the reserve, accepts one waiting connection into it and turns
    /// it away, then takes the reserve back. Returns whether to go on accepting; without a
    /// reserve (or when it cannot be taken back) accepting pauses instead.
    private func refuseWithReserve() -> Bool {
        guard reserve >= 0 else {
            pause()
            return false
        }
        Glibc.close(reserve)
        let client = ts_accept(fd, nil, nil)
        if client >= 0 { onRefuse(client) }
        reserve = Self.openReserve()
        guard reserve >= 0 else {
            pause()
            return false
        }
        return client >= 0
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
        detach()
        Glibc.close(fd)
    }

    /// Stops watching without closing, for handing the socket to another process.
    public func detach() {
        loop.unregister(fd)
        if reserve >= 0 { Glibc.close(reserve) }
        reserve = -1
    }
}
