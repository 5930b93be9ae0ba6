/// Base64 (RFC 4648) for the handshake keys and, in its URL-safe form, the segments of a JSON
/// Web Token: small and strict, not a general-purpose codec.
public enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public static func encode(_ bytes: some Collection<UInt8>) -> String {
        var out = [UInt8]()
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var iterator = bytes.makeIterator()
        while let b0 = iterator.next() {
            let b1 = iterator.next()
            let b2 = iterator.next()
            out.append(alphabet[Int(b0 >> 2)])
            out.append(alphabet[Int((b0 & 0x03) << 4 | (b1 ?? 0) >> 4)])
            out.append(b1 == nil ? UInt8(ascii: "=") : alphabet[Int((b1! & 0x0F) << 2 | (b2 ?? 0) >> 6)])
            out.append(b2 == nil ? UInt8(ascii: "=") : alphabet[Int(b2! & 0x3F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Encodes as base64url without padding (RFC 4648 §5, as JWTs and NATS signatures use it).
    public static func encodeURLSafe(_ bytes: some Collection<UInt8>) -> String {
        var out: [UInt8] = []
        for c in encode(bytes).utf8 {
            switch c {
            case UInt8(ascii: "+"): out.append(UInt8(ascii: "-"))
            case UInt8(ascii: "/"): out.append(UInt8(ascii: "_"))
            case UInt8(ascii: "="): continue
            default: out.append(c)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes canonical padded base64; nil for anything else.
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 4 == 0 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(chars.count / 4 * 3)
        var index = 0
        while index < chars.count {
            let isLast = index + 4 == chars.count
            var values = [UInt8](repeating: 0, count: 4)
            var padding = 0
            for k in 0..<4 {
                let c = chars[index + k]
                if c == UInt8(ascii: "=") {
                    guard isLast, k >= 2 else { return nil }
                    padding += 1
                    continue
                }
                guard padding == 0, let v = value(of: c) else { return nil }
                values[k] = v
            }
            out.append(values[0] << 2 | values[1] >> 4)
            if padding < 2 { out.append(values[1] << 4 | values[2] >> 2) }
            if padding < 1 { out.append(values[2] << 6 | values[3]) }
            index += 4
        }
        return out
    }

    /// Decodes base64url without padding (RFC 4648 §5, as JWTs use it); nil for anything else.
    public static func decodeURLSafe(_ text: some StringProtocol) -> [UInt8]? {
        var chars: [UInt8] = []
        chars.reserveCapacity(text.utf8.count + 3)
        for c in text.utf8 {
            switch c {
            case UInt8(ascii: "-"): chars.append(UInt8(ascii: "+"))
            case UInt8(ascii: "_"): chars.append(UInt8(ascii: "/"))
            case UInt8(ascii: "+"), UInt8(ascii: "/"), UInt8(ascii: "="): return nil
            default: chars.append(c)
            }
        }
        guard chars.count % 4 != 1 else { return nil }
        while chars.count % 4 != 0 { chars.append(UInt8(ascii: "=")) }
        return decode(String(decoding: chars, as: UTF8.self))
    }

    private static func value(of c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return c - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return c - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0") + 52
        case UInt8(ascii: "+"): return 62
        case UInt8(ascii: "/"): return 63
        default: return nil
        }
    }
}
