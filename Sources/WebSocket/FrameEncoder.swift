/// Writes frame headers (RFC 6455 §5.2). A payload is framed once and the same bytes can be
/// queued to any number of connections: server frames are unmasked, so nothing in them is
/// per-connection.
public enum FrameEncoder {
    /// Header size for a payload of this length.
    @inlinable
    public static func headerLength(payloadLength: Int, masked: Bool = false) -> Int {
        let base = payloadLength < 126 ? 2 : (payloadLength <= 0xFFFF ? 4 : 10)
        return masked ? base + 4 : base
    }

    /// Writes a header at `destination`, which must have room for `headerLength(...)` bytes,
    /// and returns the number written. A client passes `maskKey` (wire order) and then masks
    /// the payload with `Masking.apply`. `compressed` sets RSV1: the first frame of a
    /// permessage-deflate message.
    @inlinable
    @discardableResult
    public static func writeHeader(to destination: UnsafeMutableRawPointer, opcode: Opcode, fin: Bool = true,
                                   compressed: Bool = false, payloadLength: Int, maskKey: UInt32? = nil) -> Int {
        destination.storeBytes(of: (fin ? 0x80 : 0) | (compressed ? 0x40 : 0) | opcode.rawValue, as: UInt8.self)
        let maskBit: UInt8 = maskKey == nil ? 0 : 0x80
        var offset: Int
        if payloadLength < 126 {
            destination.storeBytes(of: maskBit | UInt8(payloadLength), toByteOffset: 1, as: UInt8.self)
            offset = 2
        } else if payloadLength <= 0xFFFF {
            destination.storeBytes(of: maskBit | 126, toByteOffset: 1, as: UInt8.self)
            destination.storeBytes(of: UInt16(payloadLength).bigEndian, toByteOffset: 2, as: UInt16.self)
            offset = 4
        } else {
            destination.storeBytes(of: maskBit | 127, toByteOffset: 1, as: UInt8.self)
            destination.storeBytes(of: UInt64(payloadLength).bigEndian, toByteOffset: 2, as: UInt64.self)
            offset = 10
        }
        if let maskKey {
            destination.storeBytes(of: maskKey, toByteOffset: offset, as: UInt32.self)
            offset += 4
        }
        return offset
    }

    /// Bytes of a whole frame: header, then payload.
    @inlinable
    public static func frameLength(payloadLength: Int, masked: Bool = false) -> Int {
        headerLength(payloadLength: payloadLength, masked: masked) + payloadLength
    }

    /// Writes a whole frame into `destination` (exactly `frameLength(...)` bytes): the header,
    /// then `payload`, masked with `maskKey` when one is given (a client's frames). The one
    /// place a frame is assembled, whoever sends it.
    @inlinable
    public static func writeFrame(into destination: UnsafeMutableRawBufferPointer, opcode: Opcode, fin: Bool = true,
                                  compressed: Bool = false, payload: UnsafeRawBufferPointer, maskKey: UInt32? = nil) {
        let header = writeHeader(to: destination.baseAddress!, opcode: opcode, fin: fin, compressed: compressed,
                                 payloadLength: payload.count, maskKey: maskKey)
        guard !payload.isEmpty else { return }
        (destination.baseAddress! + header).copyMemory(from: payload.baseAddress!, byteCount: payload.count)
        if let maskKey {
            Masking.apply(key: maskKey, to: UnsafeMutableRawBufferPointer(rebasing: destination[header...]), payloadOffset: 0)
        }
    }

    /// A whole frame as an array, masked when `maskKey` is given: for control frames and tests,
    /// not the hot path.
    public static func frame(opcode: Opcode, fin: Bool = true, payload: some Collection<UInt8>, maskKey: UInt32? = nil) -> [UInt8] {
        let payload = Array(payload)
        var bytes = [UInt8](repeating: 0, count: frameLength(payloadLength: payload.count, masked: maskKey != nil))
        payload.withUnsafeBytes { source in
            bytes.withUnsafeMutableBytes { writeFrame(into: $0, opcode: opcode, fin: fin, payload: source, maskKey: maskKey) }
        }
        return bytes
    }

    /// A whole masked frame as an array, as a client sends it.
    public static func maskedFrame(opcode: Opcode, fin: Bool = true, payload: some Collection<UInt8>, maskKey: UInt32) -> [UInt8] {
        frame(opcode: opcode, fin: fin, payload: payload, maskKey: maskKey)
    }

    /// The payload of a Close frame: the code in network order, then the UTF-8 reason, cut to
    /// fit the 125-byte control-frame limit on a character boundary.
    public static func closePayload(code: CloseCode, reason: String = "") -> [UInt8] {
        var bytes: [UInt8] = [UInt8(code.rawValue >> 8), UInt8(code.rawValue & 0xFF)]
        var utf8 = Array(reason.utf8.prefix(123))
        // A cut can leave a partial character at the end: drop bytes until the rest is whole.
        while !utf8.isEmpty && !utf8.withUnsafeBytes(UTF8Validator.isValid) { utf8.removeLast() }
        bytes.append(contentsOf: utf8)
        return bytes
    }
}
