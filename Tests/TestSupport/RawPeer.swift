import Glibc
import WebSocket

/// The test's end of a socketpair, speaking WebSocket by hand as a client: writes requests and
/// masked frames, and parses what the server sends with the project's own reader (client role).
/// For what a real client library would hide: not reading, exact byte order, raw Close codes.
public final class RawPeer {
    public enum Event: Equatable, CustomStringConvertible {
        case text(String)
        case binary([UInt8])
        case ping([UInt8])
        case pong([UInt8])
        /// nil: an empty Close.
        case close(UInt16?)
        case failure(String)

        public var description: String {
            switch self {
            case .text(let text): return "text(\(text))"
            case .binary(let bytes): return "binary(\(bytes.count))"
            case .ping: return "ping"
            case .pong: return "pong"
            case .close(let code): return "close(\(code.map(String.init) ?? "-"))"
            case .failure(let reason): return "failure(\(reason))"
            }
        }
    }

    public let fd: Int32
    private var buffer: [UInt8] = []
    private let reader = MessageReader(role: .client, maxMessageLength: 1 << 24)
    private let inflater = MessageInflater()
    /// Messages that arrived compressed (after `acceptCompressed()`), inflated into the events.
    public private(set) var compressedMessages = 0

    /// Reads RSV1 messages as permessage-deflate (the server agreed to it).
    public func acceptCompressed() { reader.acceptsCompressed = true }
    /// Whether the other end closed (EOF seen).
    public private(set) var sawEOF = false

    public init(fd: Int32) { self.fd = fd }

    deinit { Glibc.close(fd) }

    public func write(_ bytes: [UInt8]) { TestSupport.write(fd, bytes) }

    public func write(_ text: String) { write(Array(text.utf8)) }

    /// A masked frame, as a client sends it.
    public func send(_ opcode: Opcode, _ payload: [UInt8], fin: Bool = true) {
        write(FrameEncoder.frame(opcode: opcode, fin: fin, payload: payload, maskKey: 0x3712_9a4c))
    }

    public func sendText(_ text: String) { send(.text, Array(text.utf8)) }

    /// The upgrade request for `path`, offering `protocols`.
    public func requestUpgrade(path: String, protocols: [String] = [], extraHeaders: [String] = []) {
        var request = "GET \(path) HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        request += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        if !protocols.isEmpty { request += "Sec-WebSocket-Protocol: \(protocols.joined(separator: ", "))\r\n" }
        for header in extraHeaders { request += header + "\r\n" }
        write(request + "\r\n")
    }

    private func fill() {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n > 0 { buffer += chunk[0..<n]; continue }
            if n == 0 { sawEOF = true }
            return
        }
    }

    /// A whole HTTP response head (and body, if `Content-Length` says so) if one has arrived.
    public func readResponse() -> String? {
        fill()
        let terminator: [UInt8] = Array("\r\n\r\n".utf8)
        guard buffer.count >= 4,
              let end = (0...(buffer.count - 4)).first(where: { Array(buffer[$0..<($0 + 4)]) == terminator }) else { return nil }
        let head = String(decoding: buffer[0..<end], as: UTF8.self)
        var length = 0
        for line in head.split(separator: "\r\n") where line.lowercased().hasPrefix("content-length:") {
            length = Int(line.split(separator: ":")[1].trimmingCharacters()) ?? 0
        }
        let total = end + 4 + length
        guard buffer.count >= total else { return nil }
        let response = String(decoding: buffer[0..<total], as: UTF8.self)
        buffer.removeFirst(total)
        return response
    }

    /// Every whole frame that has arrived, as events.
    public func readEvents() -> [Event] {
        fill()
        var events: [Event] = []
        var consumed = 0
        buffer.withUnsafeMutableBytes { bytes in
            consumed = reader.readEvents(bytes) { event in
                switch event {
                case .pending: return true
                case .message(let opcode, let payload):
                    events.append(opcode == .text ? .text(String(decoding: payload, as: UTF8.self)) : .binary(Array(payload)))
                case .compressedMessage(let opcode, let payload):
                    compressedMessages += 1
                    switch inflater.inflate(payload, limit: 1 << 24, keepContext: false) {
                    case .success(let plain):
                        events.append(opcode == .text ? .text(String(decoding: plain, as: UTF8.self)) : .binary(Array(plain)))
                    case .failure(let failure):
                        events.append(.failure("inflate: \(failure)"))
                    }
                case .ping(let payload): events.append(.ping(Array(payload)))
                case .pong(let payload): events.append(.pong(Array(payload)))
                case .close(let code, _): events.append(.close(code?.rawValue))
                case .failure(let failure): events.append(.failure("\(failure)"))
                }
                if case .failure = events.last { return false }
                return true
            }
        }
        buffer.removeFirst(consumed)
        return events
    }
}

extension Substring {
    fileprivate func trimmingCharacters() -> String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}

extension RawPeer {
    /// Ends our sending side (EOF for the other end) and keeps reading possible.
    public func shutdownWrite() { _ = Glibc.shutdown(fd, Int32(SHUT_WR)) }
}
