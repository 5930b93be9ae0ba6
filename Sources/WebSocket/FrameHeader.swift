/// The fixed part of a frame (RFC 6455 §5.2), as parsed from the wire.
public struct FrameHeader: Equatable, Sendable {
    public var fin: Bool
    /// RSV1..RSV3 as the three bits 0b100, 0b010, 0b001.
    public var rsv: UInt8
    public var opcode: Opcode
    /// The masking key in wire order, or nil for an unmasked frame.
    public var maskKey: UInt32?
    public var payloadLength: Int
    /// Bytes the header occupies before the payload: 2 to 14.
    public var headerLength: Int

    public init(fin: Bool, rsv: UInt8 = 0, opcode: Opcode, maskKey: UInt32? = nil,
                payloadLength: Int, headerLength: Int) {
        self.fin = fin
        self.rsv = rsv
        self.opcode = opcode
        self.maskKey = maskKey
        self.payloadLength = payloadLength
        self.headerLength = headerLength
    }

    /// Header plus payload.
    public var frameLength: Int { headerLength + payloadLength }
}
