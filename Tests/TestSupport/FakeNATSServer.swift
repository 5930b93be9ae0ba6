import EventLoop
import Glibc
import NATS

/// A scripted NATS server on a loopback port: accepts (non-blocking), records what the client
/// wrote, and writes what the test tells it to. Driven from the test's loop condition.
public final class FakeNATSServer {
    public let listener: Int32
    public let port: Int
    public private(set) var connection: Int32 = -1
    public private(set) var received = ""
    public private(set) var accepted = 0
    /// The client closed the current connection (EOF read).
    public private(set) var peerClosed = false

    public init() throws {
        listener = try Socket.listen(on: SocketAddress(host: "127.0.0.1", port: 0)!, reusePort: false)
        port = Socket.localAddress(listener)!.port
    }

    deinit {
        if connection >= 0 { Glibc.close(connection) }
        Glibc.close(listener)
    }

    /// Accepts a waiting client and reads what it sent; true when anything happened.
    @discardableResult
    public func poll() -> Bool {
        var progressed = false
        let fd = Glibc.accept(listener, nil, nil)
        if fd >= 0 {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            if connection >= 0 { Glibc.close(connection) }
            connection = fd
            received = ""
            peerClosed = false
            accepted += 1
            progressed = true
        }
        if connection >= 0 && !peerClosed {
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = chunk.withUnsafeMutableBytes { Glibc.read(connection, $0.baseAddress, $0.count) }
                if n == 0 { peerClosed = true; progressed = true }
                if n <= 0 { break }
                received += String(decoding: chunk[0..<n], as: UTF8.self)
                progressed = true
            }
        }
        return progressed
    }

    public func send(_ text: String) { TestSupport.write(connection, Array(text.utf8)) }

    public func sendInfo(maxPayload: Int = 1_048_576) {
        send("INFO {\"server_id\":\"FAKE\",\"server_name\":\"fake\",\"version\":\"2.9.10\",\"max_payload\":\(maxPayload),\"headers\":true,\"jetstream\":true}\r\n")
    }

    /// Forgets the first `count` bytes the client sent (a script that answered them).
    public func consume(_ count: Int) {
        received = String(decoding: Array(received.utf8).dropFirst(count), as: UTF8.self)
    }

    public func dropConnection() {
        Glibc.close(connection)
        connection = -1
    }

    public var url: NATSServerURL { NATSServerURL(host: "127.0.0.1", port: port) }
}

