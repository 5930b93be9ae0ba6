import CShims
import Glibc

/// SIGTERM, SIGINT and SIGHUP delivered as loop events through a signalfd, so shutdown logic runs on
/// the loop thread like everything else. Create it before starting other threads: the signals
/// are blocked for the creating thread and inherited by threads it starts.
public final class SignalSource: EventHandler {
    public let fd: Int32
    private let onSignal: (Int32) -> Void

    public init(loop: EventLoop, onSignal: @escaping (Int32) -> Void) throws {
        fd = ts_signalfd_control()
        guard fd >= 0 else { throw SystemError("signalfd") }
        self.onSignal = onSignal
        try loop.register(fd, interest: EpollEvents.readable, handler: self)
    }

    public func handleEvent(_ events: UInt32) {
        while true {
            let signal = ts_signalfd_read(fd)
            if signal < 0 { return }
            onSignal(signal)
        }
    }
}
