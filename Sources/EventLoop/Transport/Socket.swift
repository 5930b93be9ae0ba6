import Glibc

/// Thin wrappers over socket system calls, throwing `SystemError`.
public enum Socket {
    /// A non-blocking, close-on-exec TCP socket bound to `address` and listening.
    public static func listen(on address: SocketAddress, reusePort: Bool, backlog: Int32 = 4096) throws -> Int32 {
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError("socket") }
        do {
            try setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1)
            if reusePort { try setOption(fd, SOL_SOCKET, SO_REUSEPORT, 1) }
            let bound = address.withSockaddr { bind(fd, $0, $1) }
            guard bound == 0 else { throw SystemError("bind \(address)") }
            guard Glibc.listen(fd, backlog) == 0 else { throw SystemError("listen") }
            return fd
        } catch {
            Glibc.close(fd)
            throw error
        }
    }

    /// A non-blocking TCP connection in progress to `address` (connect returns EINPROGRESS).
    public static func connect(to address: SocketAddress, from source: SocketAddress? = nil) throws -> Int32 {
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError("socket") }
        if let source {
            let bound = source.withSockaddr { bind(fd, $0, $1) }
            guard bound == 0 else {
                let error = SystemError("bind \(source)")
                Glibc.close(fd)
                throw error
            }
        }
        let result = address.withSockaddr { Glibc.connect(fd, $0, $1) }
        guard result == 0 || errno == EINPROGRESS else {
            let error = SystemError("connect \(address)")
            Glibc.close(fd)
            throw error
        }
        try? setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
        return fd
    }

    public static func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) throws {
        var value = value
        guard setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            throw SystemError("setsockopt")
        }
    }

    /// The address a socket is bound to (the real port after binding port 0).
    public static func localAddress(_ fd: Int32) -> SocketAddress? { address(of: fd, getsockname) }

    /// The address of a connected socket's peer.
    public static func peerAddress(_ fd: Int32) -> SocketAddress? { address(of: fd, getpeername) }

    private static func address(of fd: Int32,
                                _ query: (Int32, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutableBytes(of: &storage) {
            query(fd, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), &length)
        }
        return result == 0 ? SocketAddress(storage: storage, length: length) : nil
    }

    /// The pending error of a socket (after a non-blocking connect completes), 0 for none.
    public static func pendingError(_ fd: Int32) -> Int32 {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        _ = getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &length)
        return value
    }
}
