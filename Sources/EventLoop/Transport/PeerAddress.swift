import Glibc

/// The IP address a connection comes from, without its port, as a compact key for counting
/// connections per source. An IPv4 address seen through an IPv6 listener (`::ffff:a.b.c.d`)
/// is the same key as the plain IPv4 address.
public struct PeerAddress: Hashable, Sendable, CustomStringConvertible {
    private let high: UInt64
    private let low: UInt64

    /// The address part of an accepted peer; nil for families other than IPv4 and IPv6.
    public init?(_ address: SocketAddress) {
        var high: UInt64 = 0
        var low: UInt64 = 0
        let known = withUnsafeBytes(of: address.storage) { raw -> Bool in
            switch address.family {
            case AF_INET:
                let v4 = raw.load(as: sockaddr_in.self).sin_addr.s_addr
                low = 0xFFFF_0000_0000 | UInt64(UInt32(bigEndian: v4))
                return true
            case AF_INET6:
                withUnsafeBytes(of: raw.load(as: sockaddr_in6.self).sin6_addr) { bytes in
                    for index in 0..<8 { high = high << 8 | UInt64(bytes[index]) }
                    for index in 8..<16 { low = low << 8 | UInt64(bytes[index]) }
                }
                return true
            default:
                return false
            }
        }
        guard known else { return nil }
        self.high = high
        self.low = low
    }

    public var description: String {
        if high == 0 && low >> 32 == 0xFFFF {
            let v4 = UInt32(truncatingIfNeeded: low)
            return "\(v4 >> 24).\(v4 >> 16 & 0xFF).\(v4 >> 8 & 0xFF).\(v4 & 0xFF)"
        }
        var groups: [String] = []
        for word in [high, low] {
            for shift in stride(from: 48, through: 0, by: -16) { groups.append(String(word >> UInt64(shift) & 0xFFFF, radix: 16)) }
        }
        return groups.joined(separator: ":")
    }
}
