/// One operation from a NATS server, borrowed from the input: its bytes are valid only during
/// the callback that receives it.
public enum NATSServerOperation {
    /// `INFO {json}`: the server's settings, sent first and again when the cluster changes.
    case info(UnsafeRawBufferPointer)
    /// `MSG` or `HMSG`: a message for one of our subscriptions.
    case message(NATSMessage)
    case ping
    case pong
    /// `+OK` (only in verbose mode, which we do not ask for).
    case ok
    /// `-ERR 'text'`: the text without its quotes.
    case error(String)
}

/// A message delivered to a subscription (`MSG` or `HMSG`), borrowed from the input.
public struct NATSMessage {
    public let subject: UnsafeRawBufferPointer
    public let sid: UInt64
    /// The subject to reply to, for requests; nil when absent.
    public let replyTo: UnsafeRawBufferPointer?
    /// The header block of an `HMSG` (from `NATS/1.0` up to and including the blank line).
    public let headers: UnsafeRawBufferPointer?
    public let payload: UnsafeRawBufferPointer

    public var subjectString: String { String(decoding: subject, as: UTF8.self) }
}

/// Why the input is not the NATS protocol: the connection cannot continue after it.
public struct NATSProtocolError: Error, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The server side of the NATS text protocol, parsed from whatever has arrived.
///
/// Stateless between calls: `parse` takes every whole operation at the start of `bytes` and
/// says how many bytes it used; the caller keeps the rest (a partial line or payload) and
/// offers it again with more. Lines end in CRLF (a bare LF is accepted); verbs are
/// case-insensitive; arguments are separated by any run of spaces or tabs (a server writes
/// `HMSG subj 1  12 30` when there is no reply subject).
public struct NATSParser {
    /// Longest control line accepted (a subject is far shorter).
    public var maxControlLine: Int
    /// Largest payload accepted; the server's `max_payload` from INFO, plus nothing.
    public var maxPayload: Int

    public init(maxControlLine: Int = 4096, maxPayload: Int = 1 << 20) {
        self.maxControlLine = maxControlLine
        self.maxPayload = maxPayload
    }

    /// Calls `body` for each whole operation at the start of `bytes`, in order, and returns the
    /// bytes used. An error means the stream is not NATS (or breaks a bound): close it.
    public func parse(_ bytes: UnsafeRawBufferPointer, _ body: (NATSServerOperation) -> Void) -> Result<Int, NATSProtocolError> {
        var offset = 0
        while offset < bytes.count {
            switch parseOne(UnsafeRawBufferPointer(rebasing: bytes[offset...])) {
            case .failure(let error):
                return .failure(error)
            case .success(nil):
                return .success(offset)
            case .success(let (used, operation)?):
                if let operation { body(operation) }
                offset += used
            }
        }
        return .success(offset)
    }

    /// The first operation: (bytes used, operation) when whole, nil when more input is needed.
    /// An empty line yields no operation.
    private func parseOne(_ bytes: UnsafeRawBufferPointer) -> Result<(Int, NATSServerOperation?)?, NATSProtocolError> {
        guard let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) else {
            return bytes.count > maxControlLine
                ? .failure(NATSProtocolError("control line longer than \(maxControlLine) bytes")) : .success(nil)
        }
        guard newline <= maxControlLine else { return .failure(NATSProtocolError("control line longer than \(maxControlLine) bytes")) }
        let lineEnd = newline > 0 && bytes[newline - 1] == UInt8(ascii: "\r") ? newline - 1 : newline
        let line = UnsafeRawBufferPointer(rebasing: bytes[..<lineEnd])
        let afterLine = newline + 1
        if line.isEmpty { return .success((afterLine, nil)) }
        var fields = Fields(line)
        guard let verb = fields.next() else { return .success((afterLine, nil)) }
        switch Verb(verb) {
        case .msg, .hmsg:
            let withHeaders = Verb(verb) == .hmsg
            return message(line: line, fields: &fields, withHeaders: withHeaders, body: bytes, bodyStart: afterLine)
        case .ping: return .success((afterLine, .ping))
        case .pong: return .success((afterLine, .pong))
        case .ok: return .success((afterLine, .ok))
        case .error:
            var text = UnsafeRawBufferPointer(rebasing: line[(verb.count + (line.count > verb.count ? 1 : 0))...])
            text = Self.trimmed(text)
            if text.count >= 2, text.first == UInt8(ascii: "'"), text.last == UInt8(ascii: "'") {
                text = UnsafeRawBufferPointer(rebasing: text.dropFirst().dropLast())
            }
            return .success((afterLine, .error(String(decoding: text, as: UTF8.self))))
        case .info:
            let json = Self.trimmed(UnsafeRawBufferPointer(rebasing: line[verb.count...]))
            return .success((afterLine, .info(json)))
        case .unknown:
            let shown = String(decoding: line.prefix(32), as: UTF8.self).map { $0.isASCII && !$0.isWhitespace || $0 == " " ? $0 : "?" }
            return .failure(NATSProtocolError("unknown operation \"\(String(shown))\""))
        }
    }

    /// `MSG <subject> <sid> [reply-to] <#bytes>` or
    /// `HMSG <subject> <sid> [reply-to] <#header bytes> <#total bytes>`, then the payload and CRLF.
    private func message(line: UnsafeRawBufferPointer, fields: inout Fields, withHeaders: Bool,
                         body bytes: UnsafeRawBufferPointer, bodyStart: Int) -> Result<(Int, NATSServerOperation?)?, NATSProtocolError> {
        // At most five arguments, kept on the stack: no allocation per message.
        var arguments = Arguments()
        while let field = fields.next() {
            guard arguments.count < 5 else { return .failure(NATSProtocolError("too many arguments in \(withHeaders ? "HMSG" : "MSG")")) }
            arguments.append(field)
        }
        let counts = withHeaders ? 2 : 1
        guard arguments.count == 2 + counts || arguments.count == 3 + counts else {
            return .failure(NATSProtocolError("\(withHeaders ? "HMSG" : "MSG") needs subject, sid, [reply-to,] \(withHeaders ? "header and total sizes" : "size")"))
        }
        guard let sid = Self.number(arguments[1]) else { return .failure(NATSProtocolError("invalid sid")) }
        let replyTo = arguments.count == 3 + counts ? arguments[2] : nil
        guard let total = Self.number(arguments[arguments.count - 1]), total <= UInt64(maxPayload) else {
            return .failure(NATSProtocolError("invalid or oversized message size (max_payload \(maxPayload))"))
        }
        var headerCount = 0
        if withHeaders {
            guard let count = Self.number(arguments[arguments.count - 2]), count <= total, count >= 4 else {
                return .failure(NATSProtocolError("invalid header size"))
            }
            headerCount = Int(count)
        }
        let end = bodyStart + Int(total)
        guard bytes.count >= end + 2 else { return .success(nil) }
        guard bytes[end] == UInt8(ascii: "\r"), bytes[end + 1] == UInt8(ascii: "\n") else {
            return .failure(NATSProtocolError("message payload not followed by CRLF"))
        }
        let headers = withHeaders ? UnsafeRawBufferPointer(rebasing: bytes[bodyStart..<(bodyStart + headerCount)]) : nil
        if let headers, !headers.starts(with: "NATS/".utf8) {
            return .failure(NATSProtocolError("message headers do not start with NATS/"))
        }
        let payload = UnsafeRawBufferPointer(rebasing: bytes[(bodyStart + headerCount)..<end])
        let message = NATSMessage(subject: arguments[0], sid: sid, replyTo: replyTo, headers: headers, payload: payload)
        return .success((end + 2, .message(message)))
    }

    private enum Verb {
        case msg, hmsg, ping, pong, ok, error, info, unknown

        init(_ bytes: UnsafeRawBufferPointer) {
            func equals(_ name: StaticString) -> Bool {
                guard bytes.count == name.utf8CodeUnitCount else { return false }
                let expected = UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
                for index in 0..<bytes.count {
                    let byte = bytes[index]
                    let upper = byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") ? byte - 32 : byte
                    if upper != expected[index] { return false }
                }
                return true
            }
            if equals("MSG") { self = .msg }
            else if equals("HMSG") { self = .hmsg }
            else if equals("PING") { self = .ping }
            else if equals("PONG") { self = .pong }
            else if equals("+OK") { self = .ok }
            else if equals("-ERR") { self = .error }
            else if equals("INFO") { self = .info }
            else { self = .unknown }
        }
    }

    /// Up to five fields of a line, without an array.
    private struct Arguments {
        private var slots: (UnsafeRawBufferPointer, UnsafeRawBufferPointer, UnsafeRawBufferPointer, UnsafeRawBufferPointer,
                            UnsafeRawBufferPointer) = (.init(start: nil, count: 0), .init(start: nil, count: 0), .init(start: nil, count: 0),
                                                       .init(start: nil, count: 0), .init(start: nil, count: 0))
        private(set) var count = 0

        mutating func append(_ field: UnsafeRawBufferPointer) {
            switch count {
            case 0: slots.0 = field
            case 1: slots.1 = field
            case 2: slots.2 = field
            case 3: slots.3 = field
            default: slots.4 = field
            }
            count += 1
        }

        subscript(index: Int) -> UnsafeRawBufferPointer {
            switch index {
            case 0: return slots.0
            case 1: return slots.1
            case 2: return slots.2
            case 3: return slots.3
            default: return slots.4
            }
        }
    }

    /// Space- or tab-separated fields of a line.
    private struct Fields {
        let line: UnsafeRawBufferPointer
        var index = 0

        init(_ line: UnsafeRawBufferPointer) { self.line = line }

        mutating func next() -> UnsafeRawBufferPointer? {
            while index < line.count, line[index] == UInt8(ascii: " ") || line[index] == UInt8(ascii: "\t") { index += 1 }
            guard index < line.count else { return nil }
            let start = index
            while index < line.count, line[index] != UInt8(ascii: " "), line[index] != UInt8(ascii: "\t") { index += 1 }
            return UnsafeRawBufferPointer(rebasing: line[start..<index])
        }
    }

    /// A decimal count of at most 18 digits.
    static func number(_ bytes: UnsafeRawBufferPointer) -> UInt64? {
        guard !bytes.isEmpty, bytes.count <= 18 else { return nil }
        var value: UInt64 = 0
        for byte in bytes {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + UInt64(byte - UInt8(ascii: "0"))
        }
        return value
    }

    private static func trimmed(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var start = 0
        var end = bytes.count
        while start < end, bytes[start] == UInt8(ascii: " ") || bytes[start] == UInt8(ascii: "\t") { start += 1 }
        while end > start, bytes[end - 1] == UInt8(ascii: " ") || bytes[end - 1] == UInt8(ascii: "\t") { end -= 1 }
        return UnsafeRawBufferPointer(rebasing: bytes[start..<end])
    }
}
