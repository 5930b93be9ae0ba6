/// Parses WebSocket frames in place from a caller-owned buffer (RFC 6455 §5.2).
///
/// The caller passes the bytes it has not yet consumed, always starting at a frame boundary.
/// The parser never copies: it unmasks payload bytes in place as they arrive and reports which
/// ones are new, so a message layer can validate text as it streams in, and it returns a whole
/// frame only when all of its bytes are in the buffer. Bytes may be split at any point.
public struct FrameParser: Sendable {
    /// Which side of the connection this parser reads for.
    public enum Role: Sendable {
        /// Reads client frames: every frame must be masked.
        case server
        /// Reads server frames: no frame may be masked.
        case client
    }

    public enum Result: Equatable {
        /// The frame is not complete. `header` is set once it could be parsed; `newPayload`
        /// are the payload bytes (offsets into the buffer) unmasked since the last call.
        case needMore(header: FrameHeader?, newPayload: Range<Int>)
        /// A complete frame: its header, its payload's offsets in the buffer, and the payload
        /// bytes not reported as `newPayload` before. Consume `header.frameLength` bytes.
        case frame(FrameHeader, payload: Range<Int>, newPayload: Range<Int>)
        /// The bytes break the protocol; the connection must be failed with this code.
        case failure(ProtocolFailure)
    }

    // The two Ints first, the bytes after: 18 bytes, so a reader's flags fit in its tail.
    /// Largest payload accepted in one frame; larger is failed with 1009 from the header alone.
    public let maxPayloadLength: Int
    /// Payload bytes of the current frame already unmasked and reported.
    private var processedPayload = 0
    public let role: Role
    /// RSV bits a negotiated extension allows; none by default.
    public var allowedRSV: UInt8 = 0

    /// Payload bytes of the incomplete frame at the start of the input already unmasked in
    /// place (a reader handing its input over masks them again).
    public var unmaskedPayloadBytes: Int { processedPayload }

    public init(role: Role, maxPayloadLength: Int) {
        self.role = role
        self.maxPayloadLength = maxPayloadLength
    }

    /// Parses the frame at the start of `buffer`. After `.frame`, the caller must drop
    /// `header.frameLength` bytes before calling again; after `.needMore`, it calls again with
    /// the same bytes plus more.
    public mutating func next(_ buffer: UnsafeMutableRawBufferPointer) -> Result {
        let header: FrameHeader
        switch Self.parseHeader(UnsafeRawBufferPointer(buffer), role: role,
                                maxPayloadLength: maxPayloadLength, allowedRSV: allowedRSV) {
        case .success(let parsed?): header = parsed
        case .success(nil): return .needMore(header: nil, newPayload: 0..<0)
        case .failure(let failure):
            processedPayload = 0
            return .failure(failure)
        }
        let available = min(buffer.count - header.headerLength, header.payloadLength)
        let newStart = header.headerLength + processedPayload
        let newEnd = header.headerLength + available
        if let key = header.maskKey, newEnd > newStart {
            Masking.apply(key: key, to: UnsafeMutableRawBufferPointer(rebasing: buffer[newStart..<newEnd]),
                          payloadOffset: processedPayload)
        }
        if available < header.payloadLength {
            processedPayload = available
            return .needMore(header: header, newPayload: newStart..<newEnd)
        }
        processedPayload = 0
        return .frame(header, payload: header.headerLength..<header.frameLength, newPayload: newStart..<newEnd)
    }

    /// Parses and checks a frame header; `.success(nil)` when more bytes are needed.
    public static func parseHeader(_ buffer: UnsafeRawBufferPointer, role: Role,
                                   maxPayloadLength: Int, allowedRSV: UInt8 = 0) -> Swift.Result<FrameHeader?, ProtocolFailure> {
        guard buffer.count >= 2 else { return .success(nil) }
        let first = buffer[0]
        let second = buffer[1]
        let fin = first & 0x80 != 0
        let rsv = (first >> 4) & 0x7
        let opcode = Opcode(rawValue: first & 0x0F)
        let masked = second & 0x80 != 0
        let shortLength = Int(second & 0x7F)

        if rsv & ~allowedRSV != 0 {
            return .failure(ProtocolFailure(.protocolError, "reserved bits set without an extension"))
        }
        if !opcode.isDefined {
            return .failure(ProtocolFailure(.protocolError, "reserved opcode"))
        }
        if opcode.isControl {
            if !fin { return .failure(ProtocolFailure(.protocolError, "fragmented control frame")) }
            if shortLength > 125 { return .failure(ProtocolFailure(.protocolError, "control frame payload over 125 bytes")) }
        }
        switch role {
        case .server where !masked:
            return .failure(ProtocolFailure(.protocolError, "client frame not masked"))
        case .client where masked:
            return .failure(ProtocolFailure(.protocolError, "server frame masked"))
        default: break
        }

        var offset = 2
        var length = shortLength
        if shortLength == 126 {
            guard buffer.count >= 4 else { return .success(nil) }
            length = Int(buffer[2]) << 8 | Int(buffer[3])
            offset = 4
        } else if shortLength == 127 {
            guard buffer.count >= 10 else { return .success(nil) }
            var wide: UInt64 = 0
            for i in 2..<10 { wide = wide << 8 | UInt64(buffer[i]) }
            if wide & (1 << 63) != 0 {
                return .failure(ProtocolFailure(.protocolError, "64-bit length with the high bit set"))
            }
            length = wide > UInt64(Int.max / 2) ? Int.max / 2 : Int(wide)
            offset = 10
        }
        if length > maxPayloadLength {
            return .failure(ProtocolFailure(.messageTooBig, "message exceeds the size limit"))
        }
        var maskKey: UInt32?
        if masked {
            guard buffer.count >= offset + 4 else { return .success(nil) }
            maskKey = buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
            offset += 4
        }
        return .success(FrameHeader(fin: fin, rsv: rsv, opcode: opcode, maskKey: maskKey,
                                    payloadLength: length, headerLength: offset))
    }
}
