import CShims
import Glibc

/// One end of the control connection between a running instance and its successor: blocking
/// with timeouts (the exchange is a burst of local syscalls, run inline), text lines for the
/// dialogue, and framed messages that carry descriptors.
///
/// A message is a 12-byte header (a 4-letter kind, the number of descriptors, the body's
/// length, little-endian) sent with its descriptors attached (SCM_RIGHTS), then the body.
struct ControlChannel {
    let fd: Int32

    enum Kind: String {
        /// The market: book states and the simulator's position (`MarketHandover`).
        case market = "MRKT"
        /// A batch of connections (`SessionHandover`), their descriptors attached.
        case connections = "CONN"
        /// Nothing more follows: the last batch is confirmed.
        case done = "DONE"
    }

    struct Message {
        let kind: Kind
        let fds: [Int32]
        let body: [UInt8]
    }

    private static let headerLength = 12
    /// Long enough for a `FIGURES` line with its two histograms.
    private static let maxLine = 4096

    /// Bounds every read and write: a peer that stops answering is treated as gone.
    func setTimeout(seconds: Int) {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// The next line without its newline; nil at EOF, on a timeout or past `maxLine` bytes.
    func readLine() -> String? {
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while bytes.count < Self.maxLine {
            let n = read(fd, &byte, 1)
            if n < 0 && errno == EINTR { continue }
            guard n == 1 else { return nil }
            if byte == UInt8(ascii: "\n") { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(byte)
        }
        return nil
    }

    @discardableResult
    func writeLine(_ line: String) -> Bool {
        writeAll(Array((line + "\n").utf8))
    }

    private func writeAll(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            offset += n
        }
        return true
    }

    private func readExactly(_ count: Int, into bytes: inout [UInt8], from start: Int = 0) -> Bool {
        var offset = start
        while offset < count {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + offset, count - offset) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            offset += n
        }
        return true
    }

    /// Sends a message; false when the peer is gone or stopped reading.
    func send(_ kind: Kind, fds: [Int32] = [], body: [UInt8] = []) -> Bool {
        precondition(fds.count <= Int(TS_MAX_FDS_PER_MESSAGE))
        var header = HandoverWriter()
        for byte in kind.rawValue.utf8 { header.u8(byte) }
        header.u32(UInt32(fds.count))
        header.u32(UInt32(body.count))
        let sent = header.bytes.withUnsafeBytes { bytes in
            fds.withUnsafeBufferPointer { ts_send_fds(fd, $0.baseAddress, Int32(fds.count), bytes.baseAddress, bytes.count) }
        }
        return sent == 0 && writeAll(body)
    }

    /// The next message. Nil when the peer is gone or silent past the timeout; an error when
    /// what arrived is not a message of this format (any descriptors that came are closed).
    func receive() -> Result<Message, HandoverFormatError>? {
        var header = [UInt8](repeating: 0, count: Self.headerLength)
        var fds = [Int32](repeating: -1, count: Int(TS_MAX_FDS_PER_MESSAGE))
        var received: Int32 = 0
        let n = header.withUnsafeMutableBytes { bytes in
            fds.withUnsafeMutableBufferPointer {
                ts_recv_fds(fd, $0.baseAddress, TS_MAX_FDS_PER_MESSAGE, &received, bytes.baseAddress, bytes.count)
            }
        }
        let descriptors = Array(fds.prefix(Int(received)))
        func fail(_ why: String) -> Result<Message, HandoverFormatError> {
            for descriptor in descriptors { close(descriptor) }
            return .failure(HandoverFormatError(why))
        }
        if n == -2 { return fail("more descriptors than a message may carry") }
        guard n > 0, readExactly(Self.headerLength, into: &header, from: n) else {
            for descriptor in descriptors { close(descriptor) }
            return nil
        }
        var reader = HandoverReader(header)
        guard let kind = Kind(rawValue: String(decoding: header.prefix(4), as: UTF8.self)) else {
            return fail("unknown message \(String(decoding: header.prefix(4), as: UTF8.self).debugDescription)")
        }
        _ = try? reader.u32("kind")
        let declared = Int((try? reader.u32("descriptors")) ?? 0)
        let length = Int((try? reader.u32("length")) ?? 0)
        guard declared == descriptors.count else { return fail("\(descriptors.count) descriptors where \(declared) were announced") }
        guard length <= HandoverFormat.maxBodyBytes else { return fail("a body of \(length) bytes") }
        var body = [UInt8](repeating: 0, count: length)
        guard readExactly(length, into: &body) else {
            for descriptor in descriptors { close(descriptor) }
            return nil
        }
        return .success(Message(kind: kind, fds: descriptors, body: body))
    }
}
