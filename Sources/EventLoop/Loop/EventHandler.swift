/// Something registered with an `EventLoop` for readiness of one file descriptor.
public protocol EventHandler: AnyObject {
    /// Called on the loop thread with the epoll event bits (EPOLLIN, EPOLLOUT, EPOLLHUP, ...).
    func handleEvent(_ events: UInt32)
}

/// epoll event bits as Swift constants (glibc exposes them as an enum Swift imports awkwardly).
public enum EpollEvents {
    public static let readable: UInt32 = 0x001       // EPOLLIN
    public static let writable: UInt32 = 0x004       // EPOLLOUT
    public static let error: UInt32 = 0x008          // EPOLLERR
    public static let hangup: UInt32 = 0x010         // EPOLLHUP
    public static let readHangup: UInt32 = 0x2000    // EPOLLRDHUP
}
