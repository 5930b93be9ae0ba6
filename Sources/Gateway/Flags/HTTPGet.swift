import ByteBuffers
import CShims
import Glibc
import HTTP

/// A blocking HTTP/1.1 GET for the flags monitor (Prometheus' API, instances' /metrics): one
/// request per connection, the whole body read to the close. Cold path, plain http only.
enum HTTPGet {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// `url`: `http://host:port/path?query`. Returns the status and body.
    static func get(_ url: String, timeoutSeconds: Int = 5) throws -> (status: Int, body: [UInt8]) {
        guard url.hasPrefix("http://") else { throw Failure(description: "\(url): only http:// URLs") }
        let rest = url.dropFirst("http://".count)
        let authority = rest.prefix { $0 != "/" }
        let target = rest.dropFirst(authority.count)
        let host = authority.contains(":") ? String(authority.prefix { $0 != ":" }) : String(authority)
        let port = authority.contains(":") ? String(authority.drop { $0 != ":" }.dropFirst()) : "80"
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, port, &hints, &found) == 0, let address = found else { throw Failure(description: "\(url): cannot resolve \(host)") }
        defer { freeaddrinfo(found) }
        let fd = socket(address.pointee.ai_family, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "\(url): socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard connect(fd, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 else {
            throw Failure(description: "\(url): connect: \(String(cString: strerror(errno)))")
        }
        let request = "GET \(target.isEmpty ? "/" : String(target)) HTTP/1.1\r\nHost: \(authority)\r\nConnection: close\r\nAccept: */*\r\n\r\n"
        let sent = request.utf8CString.withUnsafeBytes { send(fd, $0.baseAddress, $0.count - 1, 0) }
        guard sent == request.utf8.count else { throw Failure(description: "\(url): send failed") }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n < 0 { throw Failure(description: "\(url): \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            response += chunk[0..<n]
        }
        let head: HTTPResponseHead, headLength: Int
        switch response.withUnsafeBytes({ HTTPResponseParser.parse($0, maxHeaderBytes: max(16_384, response.count)) }) {
        case .complete(let parsed, let consumed): (head, headLength) = (parsed, consumed)
        case .needMore, .invalid: throw Failure(description: "\(url): no HTTP response")
        }
        var body = Array(response[headLength...])
        if head.hasToken("transfer-encoding", "chunked") { body = dechunked(body) }
        return (head.status, body)
    }

    private static func dechunked(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var index = 0
        while index < bytes.count {
            var lineEnd = index
            while lineEnd + 1 < bytes.count, !(bytes[lineEnd] == 13 && bytes[lineEnd + 1] == 10) { lineEnd += 1 }
            let sizeText = String(decoding: bytes[index..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingOptionalWhitespace(), radix: 16), size > 0 else { break }
            let start = lineEnd + 2
            guard start + size <= bytes.count else { break }
            out += bytes[start..<(start + size)]
            index = start + size + 2
        }
        return out
    }
}
