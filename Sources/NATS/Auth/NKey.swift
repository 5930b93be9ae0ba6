/// NATS's text form of Ed25519 keys (an NKEY): a prefix byte naming the key's role, the 32
/// key bytes and a CRC-16 (XMODEM, little-endian), in base32 without padding. A seed starts
/// with `S` and names its role in the second letter (`SU…` for a user); a user's public key
/// starts with `U`.
public enum NKey {
    static let seedPrefix: UInt8 = 18 << 3
    static let userPrefix: UInt8 = 20 << 3

    /// The 32 bytes of a user seed (`SU…`); nil when it is not one or its checksum is wrong.
    public static func userSeed(_ text: some StringProtocol) -> [UInt8]? {
        guard let raw = base32Decode(text), raw.count == 36, checksumHolds(raw) else { return nil }
        guard raw[0] & 0xF8 == seedPrefix else { return nil }
        let role = (raw[0] & 0x07) << 5 | (raw[1] & 0xF8) >> 3
        guard role == userPrefix else { return nil }
        return Array(raw[2..<34])
    }

    /// A user's public key (`U…`) from its 32 Ed25519 public-key bytes.
    public static func userPublicKey(_ key: [UInt8]) -> String {
        var raw = [userPrefix] + key
        let crc = crc16(raw)
        raw.append(UInt8(crc & 0xFF))
        raw.append(UInt8(crc >> 8))
        return base32Encode(raw)
    }

    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)

    static func base32Encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for byte in bytes {
            buffer = buffer << 8 | UInt32(byte)
            bits += 8
            while bits >= 5 {
                out.append(alphabet[Int(buffer >> UInt32(bits - 5) & 31)])
                bits -= 5
            }
        }
        if bits > 0 { out.append(alphabet[Int(buffer << UInt32(5 - bits) & 31)]) }
        return String(decoding: out, as: UTF8.self)
    }

    static func base32Decode(_ text: some StringProtocol) -> [UInt8]? {
        var out: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for character in text.utf8 {
            guard let value = alphabet.firstIndex(of: character) else { return nil }
            buffer = buffer << 5 | UInt32(value)
            bits += 5
            if bits >= 8 {
                out.append(UInt8(buffer >> UInt32(bits - 8) & 0xFF))
                bits -= 8
            }
        }
        return out
    }

    static func checksumHolds(_ raw: [UInt8]) -> Bool {
        let body = Array(raw.dropLast(2))
        let crc = crc16(body)
        return raw[raw.count - 2] == UInt8(crc & 0xFF) && raw[raw.count - 1] == UInt8(crc >> 8)
    }

    static func crc16(_ bytes: [UInt8]) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc ^= UInt16(byte) << 8
            for _ in 0..<8 { crc = crc & 0x8000 != 0 ? crc << 1 ^ 0x1021 : crc << 1 }
        }
        return crc
    }
}
