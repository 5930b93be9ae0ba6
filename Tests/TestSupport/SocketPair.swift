import Glibc

/// A connected pair of non-blocking Unix stream sockets: one for the loop, one for the test.
public func socketPair() -> (Int32, Int32) {
    var fds: [Int32] = [0, 0]
    let result = socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &fds)
    precondition(result == 0)
    return (fds[0], fds[1])
}

/// Shrinks a socket's kernel send buffer, so a peer that does not read fills it quickly.
public func shrinkSendBuffer(_ fd: Int32, to bytes: Int32 = 4096) {
    var size = bytes
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
}

/// Reads whatever the peer end has now.
public func readAll(_ fd: Int32) -> [UInt8] {
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        if n <= 0 { return out }
        out += chunk[0..<n]
    }
}

/// Writes all of `bytes` (the test's end is non-blocking; tests write little). A peer that is
/// already gone is not an error here (no SIGPIPE): the test then sees its EOF.
public func write(_ fd: Int32, _ bytes: [UInt8]) {
    let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    precondition(n == bytes.count || (n < 0 && (errno == EPIPE || errno == ECONNRESET)), "short write to a test socket")
}
