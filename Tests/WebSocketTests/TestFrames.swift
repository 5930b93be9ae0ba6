import WebSocket

/// Builders for client frames in tests.
enum TestFrames {
    static let key: UInt32 = 0x3D21_FA37

    static func client(_ opcode: Opcode, _ payload: [UInt8], fin: Bool = true, rsv: UInt8 = 0) -> [UInt8] {
        var frame = FrameEncoder.maskedFrame(opcode: opcode, fin: fin, payload: payload, maskKey: key)
        frame[0] |= rsv << 4
        return frame
    }

    static func client(_ opcode: Opcode, _ text: String, fin: Bool = true) -> [UInt8] {
        client(opcode, Array(text.utf8), fin: fin)
    }

    static func close(_ code: UInt16, _ reason: [UInt8] = []) -> [UInt8] {
        client(.close, [UInt8(code >> 8), UInt8(code & 0xFF)] + reason)
    }
}

/// What a reader produced, copied out so tests can compare it after the buffer is gone.
enum Seen: Equatable {
    case message(Opcode, [UInt8])
    /// Still compressed, as the reader hands it out.
    case compressed(Opcode, [UInt8])
    case ping([UInt8])
    case pong([UInt8])
    case close(UInt16?, String)
    case failure(CloseCode)
}

/// Feeds `bytes` to a fresh reader in chunks of `chunkSize` (or at the given split points),
/// keeping unconsumed bytes the way StreamSocket does, and collects what it reports.
func drive(_ bytes: [UInt8], splits: [Int]? = nil, chunkSize: Int = .max, maxMessage: Int = 1 << 20,
           acceptsCompressed: Bool = false) -> [Seen] {
    let reader = MessageReader(role: .server, maxMessageLength: maxMessage)
    reader.acceptsCompressed = acceptsCompressed
    var boundaries = splits ?? Array(stride(from: min(chunkSize, bytes.count), to: bytes.count, by: chunkSize))
    boundaries.append(bytes.count)
    var buffered: [UInt8] = []
    var seen: [Seen] = []
    var start = 0
    for end in boundaries {
        buffered += bytes[start..<end]
        start = end
        readAvailable(reader, &buffered, into: &seen)
        if case .failure = seen.last { break }
    }
    return seen
}

/// Reads events from `buffered` until `reader` needs more bytes or fails, dropping what it
/// consumed the way StreamSocket does, and collects what it reports.
func readAvailable(_ reader: MessageReader, _ buffered: inout [UInt8], into seen: inout [Seen]) {
    while true {
        var stop = false
        let consumed: Int = buffered.withUnsafeMutableBytes { buffer in
            let (event, consumed) = reader.next(buffer)
            switch event {
            case .pending: stop = consumed == 0
            case .message(let opcode, let payload): seen.append(.message(opcode, Array(payload)))
            case .compressedMessage(let opcode, let payload): seen.append(.compressed(opcode, Array(payload)))
            case .ping(let payload): seen.append(.ping(Array(payload)))
            case .pong(let payload): seen.append(.pong(Array(payload)))
            case .close(let code, let reason): seen.append(.close(code?.rawValue, String(decoding: reason, as: UTF8.self)))
            case .failure(let failure):
                seen.append(.failure(failure.code))
                stop = true
            }
            return consumed
        }
        buffered.removeFirst(consumed)
        if stop { return }
    }
}
