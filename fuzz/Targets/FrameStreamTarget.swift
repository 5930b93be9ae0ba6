import WebSocket

/// The frame reader, fed the input as a client's bytes twice: whole, and in small pieces (the
/// piece size comes from the first byte). Both must see the same events up to the first failure:
/// how TCP cuts a stream must never change what it means.
public enum FrameStreamTarget {
    public static func run(_ data: UnsafeRawBufferPointer) {
        guard let first = data.first else { return }
        let pieceSize = Int(first % 13) + 1
        let compressed = first & 0x80 != 0
        let whole = events(Array(data.dropFirst()), pieceSize: .max, compressed: compressed)
        let pieces = events(Array(data.dropFirst()), pieceSize: pieceSize, compressed: compressed)
        precondition(whole == pieces, "events differ by how the input was cut: \(whole) vs \(pieces)")
    }

    /// The events a server connection would see, as text, stopping at a failure or a Close.
    static func events(_ input: [UInt8], pieceSize: Int, compressed: Bool) -> [String] {
        let reader = MessageReader(role: .server, maxMessageLength: 4096)
        reader.acceptsCompressed = compressed
        var pending: [UInt8] = []
        var seen: [String] = []
        var finished = false
        var offset = 0
        while offset < input.count && !finished {
            let end = min(input.count, offset + min(pieceSize, input.count - offset))
            pending += input[offset..<end]
            offset = end
            let consumed = pending.withUnsafeMutableBytes { buffer in
                reader.readEvents(buffer) { event in
                    switch event {
                    case .pending: return true
                    case .message(let opcode, let payload): seen.append("message \(opcode) \(Array(payload))")
                    case .compressedMessage(let opcode, let payload): seen.append("compressed \(opcode) \(Array(payload))")
                    case .ping(let payload): seen.append("ping \(Array(payload))")
                    case .pong(let payload): seen.append("pong \(Array(payload))")
                    case .close(let code, let reason):
                        seen.append("close \(code.map { "\($0.rawValue)" } ?? "-") \(Array(reason))")
                        finished = true
                    case .failure(let failure):
                        seen.append("failure \(failure.code.rawValue)")
                        finished = true
                    }
                    return !finished
                }
            }
            pending.removeFirst(min(consumed, pending.count))
            // A connection holds at most a frame header more than the largest message.
            if pending.count > 4096 + 14 && !finished { seen.append("over the input bound"); finished = true }
        }
        return seen
    }
}
