import ByteBuffers
/// Names a sequence space: every symbol's `seq` counts within one epoch. A client that sees
/// the same epoch can read a jump in `seq` as missed updates; a new epoch means the sequence
/// really restarted (a fresh process without a bus, a stream recreated), so the snapshot that
/// follows replaces what it held and nothing was lost.
///
/// A process without a bus starts a random epoch, keeps it across a live handover and takes a
/// new one when it resumes behind a sequence another process ran ahead (a crashed successor).
/// On the bus the stream is the space: the epoch is derived from the stream's identity, so
/// every instance and every deploy fed by that stream shares it.
public struct MarketEpoch: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// 16 lower-case hex digits.
    public let value: String
    public var description: String { value }

    /// Accepts what `value` looks like: 1 to 64 characters of [0-9a-z]; nil for anything else.
    public init?(_ text: String) {
        guard (1...64).contains(text.utf8.count),
              text.utf8.allSatisfy({ ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) })
        else { return nil }
        value = text
    }

    private init(bits: UInt64) {
        let hex = String(bits, radix: 16)
        value = String(repeating: "0", count: 16 - hex.utf8.count) + hex
    }

    /// A fresh epoch, unlike any before it.
    public static func random() -> MarketEpoch { MarketEpoch(bits: UInt64.random(in: 1...UInt64.max)) }

    /// The same epoch for the same identity on every instance (FNV-1a of its bytes).
    public static func derived(from identity: String) -> MarketEpoch {
        MarketEpoch(bits: StableHash.fnv1a64(identity))
    }
}
