/// XOR masking of payload bytes (RFC 6455 §5.3). Masking and unmasking are the same operation.
public enum Masking {
    /// XORs `bytes` with `key`, where `bytes[0]` is payload byte number `payloadOffset` of its
    /// frame: lets a payload be unmasked piecewise as it arrives.
    /// `key` holds the four key bytes in wire order (first byte in the lowest address).
    @inlinable
    public static func apply(key: UInt32, to bytes: UnsafeMutableRawBufferPointer, payloadOffset: Int) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        // Rotate so that lane 0 of the key lines up with bytes[0].
        let shift = UInt32((payloadOffset & 3) * 8)
        let rotated = shift == 0 ? key : (key >> shift) | (key << (32 - shift))
        let wide = UInt64(rotated) | (UInt64(rotated) << 32)
        var index = 0
        let count = bytes.count
        while index + 8 <= count {
            let word = base.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            base.storeBytes(of: word ^ wide, toByteOffset: index, as: UInt64.self)
            index += 8
        }
        var lane = rotated
        while index < count {
            let byte = base.load(fromByteOffset: index, as: UInt8.self)
            base.storeBytes(of: byte ^ UInt8(truncatingIfNeeded: lane), toByteOffset: index, as: UInt8.self)
            lane = (lane >> 8) | (lane << 24)
            index += 1
        }
    }
}
