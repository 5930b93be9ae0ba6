import CShims
import EventLoop
import Glibc
import Logging

/// The old instance's side of a hot takeover: a Unix socket where a new instance asks for the
/// listening socket, and perhaps the live connections.
///
/// Exchange: the new instance sends `TAKEOVER\n`; we send the listener over SCM_RIGHTS; it
/// starts accepting on it and sends `READY\n`; we stop accepting. Until READY arrives we keep
/// accepting, so the port never goes a moment without an acceptor. A new instance started with
/// `--handover connections` then sends `HANDOVER\n` and the connections follow
/// (`HandoverSender`); otherwise it closes the socket and we drain. The exchange is a few
/// local syscalls, so it runs inline on the loop with a 2 s socket timeout.
final class ControlSocket: EventHandler {
    private let fd: Int32
    private let path: String
    private let loop: EventLoop
    private let logger: Logger
    /// The listening descriptor to send, if this instance still has one.
    private let listenerToHandOver: () -> Int32?
    /// The new instance confirmed: stop accepting, hand over the connections if it asked
    /// (on the channel given, with the newest state format it reads), and drain what stays.
    /// Returns true to keep the control connection (a watched deploy goes on over it).
    private let listenerTakenOver: (ControlChannel?, Int) -> Bool
    /// Why a takeover cannot happen now (a watched deploy in progress), or nil.
    private let refusal: () -> String?

    init(path: String, loop: EventLoop, logger: Logger,
         listenerToHandOver: @escaping () -> Int32?, refusal: @escaping () -> String? = { nil },
         listenerTakenOver: @escaping (ControlChannel?, Int) -> Bool) throws {
        self.refusal = refusal
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
        // Kept through a watch: no process this one starts may inherit it.
        _ = fcntl(client, F_SETFD, FD_CLOEXEC)
        var keep = false
        defer { if !keep { Glibc.close(client) } }
        let channel = ControlChannel(fd: client)
        channel.setTimeout(seconds: 2)
        // `TAKEOVER <n>`: the successor reads state formats up to n; a bare one (an older
        // build) reads format 1.
        guard let request = channel.readLine(), request == "TAKEOVER" || request.hasPrefix("TAKEOVER ") else {
            logger.warning("control socket: unknown request")
            return
        }
        let successorReads = Int(request.dropFirst("TAKEOVER ".count)) ?? 1
        if let refused = refusal() {
            logger.warning("takeover refused: \(refused)")
            channel.writeLine("BUSY \(refused)")
            return
        }
        guard let listenerFD = listenerToHandOver() else {
            channel.writeLine("NO-LISTENER")
            return
        }
        logger.notice("takeover requested: handing over the listener")
        guard ts_send_fd(client, listenerFD) == 0 else {
            logger.error("takeover: could not send the listener", metadata: ["errno": "\(errno)"])
            return
        }
        guard channel.readLine() == "READY" else {
            logger.error("takeover: the new instance did not confirm; keeping the listener")
            return
        }
        // A successor that wants the connections says so at once; one that does not closes.
        keep = listenerTakenOver(channel.readLine() == "HANDOVER" ? channel : nil, successorReads)
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

    /// Connects to a running instance's control socket and receives its listener, saying the
    /// newest state format this build reads. An older running instance does not know that
    /// request and closes: then it is asked again the way it knows.
    static func receiveListener(from path: String) throws -> TakeoverClient {
        do {
            return try receiveListener(from: path, request: "TAKEOVER \(HandoverFormat.version)")
        } catch let first as SystemError where first.errno == EPROTO {
            return try receiveListener(from: path, request: "TAKEOVER")
        }
    }

    private static func receiveListener(from path: String, request: String) throws -> TakeoverClient {
        let control = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard control >= 0 else { throw SystemError("socket(AF_UNIX)") }
        // Also bounds the handover that may follow: a predecessor silent for 5 s is gone.
        ControlChannel(fd: control).setTimeout(seconds: 5)
        var address = UnixAddress(path)
        guard address.withSockaddr({ connect(control, $0, $1) }) == 0 else {
            let error = SystemError("takeover: connect to \(path)")
            Glibc.close(control)
            throw error
        }
        ControlChannel(fd: control).writeLine(request)
        var fd: Int32 = -1, received: Int32 = 0
        var first: UInt8 = 0
        let got = ts_recv_fds(control, &fd, 1, &received, &first, 1)
        guard got == 1, received == 1, fd >= 0 else {
            // A line instead of a descriptor: the running instance says why not.
            let said = got == 1 && received == 0 ? String(decoding: [first], as: UTF8.self) + (ControlChannel(fd: control).readLine() ?? "") : nil
            Glibc.close(control)
            if let said { throw TakeoverRefused(path: path, answer: said) }
            throw SystemError("takeover: no listener received from \(path)", errno: EPROTO)
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        return TakeoverClient(fd: fd, control: control)
    }

    /// Tells the old instance we are accepting, so it may stop.
    func confirm() throws {
        guard channel.writeLine("READY") else {
            Glibc.close(control)
            throw SystemError("takeover: could not confirm")
        }
    }

    /// The control connection, for asking for the connections after `confirm`.
    var channel: ControlChannel { ControlChannel(fd: control) }

    /// Ends the exchange: without a handover, the old instance drains its clients.
    func finish() { Glibc.close(control) }
}

/// The running instance would not hand its listener over, and said why.
public struct TakeoverRefused: Error, CustomStringConvertible {
    let path: String
    let answer: String
    public var description: String { "takeover refused by the instance at \(path): \(answer)" }
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
