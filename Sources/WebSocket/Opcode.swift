/// A WebSocket frame opcode (RFC 6455 §5.2). Kept as a raw value so reserved opcodes can be
/// represented long enough to be rejected with 1002.
public struct Opcode: RawRepresentable, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue & 0x0F }

    public static let continuation = Opcode(rawValue: 0x0)
    public static let text = Opcode(rawValue: 0x1)
    public static let binary = Opcode(rawValue: 0x2)
    public static let close = Opcode(rawValue: 0x8)
    public static let ping = Opcode(rawValue: 0x9)
    public static let pong = Opcode(rawValue: 0xA)

    /// Control frames (close, ping, pong and the reserved 0xB-0xF) have the high bit set.
    public var isControl: Bool { rawValue & 0x8 != 0 }

    /// Whether RFC 6455 assigns this opcode a meaning; the others are reserved.
    public var isDefined: Bool {
        switch rawValue {
        case 0x0, 0x1, 0x2, 0x8, 0x9, 0xA: return true
        default: return false
        }
    }
}
