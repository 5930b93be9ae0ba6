import CShims
import EventLoop
import Glibc
import Logging

/// The old instance's side of a hot takeover: a Unix socket where a new instance asks for the
/// listening socket.
///
/// Exchange (one line each way, then the descriptor): the new instance sends `TAKEOVER\n`;
/// we send the listener over SCM_RIGHTS; it starts accepting on it and sends `READY\n`; we
/// stop accepting and drain without a grace period. Until READY arrives we keep accepting, so
/// the port never goes a moment without an acceptor. The exchange is a few local syscalls, so
/// it runs inline on the loop with a 2 s socket timeout.
final class ControlSocket: EventHandler {
    private let fd: Int32
    private let path: String
    private let loop: EventLoop
    private let logger: Logger
    /// The listening descriptor to send, if this instance still has one.
    private let listenerToHandOver: () -> Int32?
    /// The new instance confirmed: stop accepting and drain.
    private let listenerTakenOver: () -> Void

    init(path: String, loop: EventLoop, logger: Logger,
         listenerToHandOver: @escaping () -> Int32?, listenerTakenOver: @escaping () -> Void) throws {
        self.path = path
        self.loop = loop
        self.logger = logger
        self.listenerToHandOver = listenerToHandOver
        self.listenerTakenOver = listenerTakenOver
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError("socket(AF_UNIX)") }
        unlink(path)  // a previous instance's socket: a takeover has replaced it
        var address = UnixAddress(path)
        guard address.withSockaddr({ bind(fd, $0, $1) }) == 0 else {
            let error = SystemError("bind \(path)")
            Glibc.close(fd)
            throw error
        }
        chmod(path, 0o600)
        guard listen(fd, 4) == 0 else { throw SystemError("listen \(path)") }
        try loop.register(fd, interest: EpollEvents.readable, handler: self)
    }

    func handleEvent(_ events: UInt32) {
        let client = accept(fd, nil, nil)
        guard client >= 0 else { return }
        defer { Glibc.close(client) }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard readLine(client) == "TAKEOVER" else {
            logger.warning("control socket: unknown request")
            return
        }
        guard let listenerFD = listenerToHandOver() else {
            _ = "NO-LISTENER\n".withCString { write(client, $0, strlen($0)) }
            return
        }
        logger.notice("takeover requested: handing over the listener")
        guard ts_send_fd(client, listenerFD) == 0 else {
            logger.error("takeover: could not send the listener", metadata: ["errno": "\(errno)"])
            return
        }
        guard readLine(client) == "READY" else {
            logger.error("takeover: the new instance did not confirm; keeping the listener")
            return
        }
        listenerTakenOver()
    }

    private func readLine(_ socket: Int32) -> String? {
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while bytes.count < 64 {
            guard read(socket, &byte, 1) == 1 else { return nil }
            if byte == UInt8(ascii: "\n") { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(byte)
        }
        return nil
    }

    func close(unlink remove: Bool) {
        loop.unregister(fd)
        Glibc.close(fd)
        if remove { unlink(path) }
    }
}

/// The new instance's side of a takeover.
struct TakeoverClient {
    let fd: Int32
    private let control: Int32

    /// Connects to a running instance's control socket and receives its listener.
    static func receiveListener(from path: String) throws -> TakeoverClient {
        let control = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard control >= 0 else { throw SystemError("socket(AF_UNIX)") }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(control, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = UnixAddress(path)
        guard address.withSockaddr({ connect(control, $0, $1) }) == 0 else {
            let error = SystemError("takeover: connect to \(path)")
            Glibc.close(control)
            throw error
        }
        let request = "TAKEOVER\n"
        _ = request.withCString { write(control, $0, strlen($0)) }
        let fd = ts_recv_fd(control)
        guard fd >= 0 else {
            Glibc.close(control)
            throw SystemError("takeover: no listener received from \(path)", errno: EPROTO)
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        return TakeoverClient(fd: fd, control: control)
    }

    /// Tells the old instance we are accepting, so it may stop.
    func confirm() throws {
        defer { Glibc.close(control) }
        let ready = "READY\n"
        guard ready.withCString({ write(control, $0, strlen($0)) }) == 6 else {
            throw SystemError("takeover: could not confirm")
        }
    }
}

/// A `sockaddr_un` for a filesystem path.
struct UnixAddress {
    private var storage = sockaddr_un()

    init(_ path: String) {
        storage.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &storage.sun_path) { raw in
            let bytes = Array(path.utf8.prefix(raw.count - 1))
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
    }

    mutating func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }
}
