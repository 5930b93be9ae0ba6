/// A parsed `Sec-WebSocket-Extensions` header (RFC 6455 §9.1): extensions in the order given,
/// each with its parameters, quoted values unquoted.
public struct ExtensionList: Sendable, Equatable {
    public struct Extension: Sendable, Equatable {
        public var name: String
        public var parameters: [(name: String, value: String?)]

        public static func == (a: Extension, b: Extension) -> Bool {
            a.name == b.name && a.parameters.elementsEqual(b.parameters, by: { $0.name == $1.name && $0.value == $1.value })
        }
    }

    public var extensions: [Extension]

    /// Parses every value of the header (several header lines are one comma-separated list).
    /// Returns nil when the syntax is broken: a handshake that must be refused, not an offer
    /// to decline.
    public init?(_ values: [String]) {
        var extensions: [Extension] = []
        for value in values {
            guard let parsed = Self.parse(Array(value.utf8)) else { return nil }
            extensions += parsed
        }
        self.extensions = extensions
    }

    private static func parse(_ bytes: [UInt8]) -> [Extension]? {
        var result: [Extension] = []
        var index = 0
        func skipSpace() { while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x09 { index += 1 } }
        func token() -> String? {
            let start = index
            while index < bytes.count, isTokenCharacter(bytes[index]) { index += 1 }
            return index > start ? String(decoding: bytes[start..<index], as: UTF8.self) : nil
        }
        func quoted() -> String? {
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
            index += 1
            var value: [UInt8] = []
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                if byte == UInt8(ascii: "\"") { return String(decoding: value, as: UTF8.self) }
                if byte == UInt8(ascii: "\\") {
                    guard index < bytes.count else { return nil }
                    value.append(bytes[index])
                    index += 1
                } else {
                    value.append(byte)
                }
            }
            return nil
        }
        while true {
            skipSpace()
            // Empty list elements ("a, , b") are allowed by the # rule.
            if index < bytes.count, bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if index == bytes.count { break }
            guard let name = token() else { return nil }
            var parameters: [(name: String, value: String?)] = []
            skipSpace()
            while index < bytes.count, bytes[index] == UInt8(ascii: ";") {
                index += 1
                skipSpace()
                guard let parameter = token() else { return nil }
                skipSpace()
                var value: String?
                if index < bytes.count, bytes[index] == UInt8(ascii: "=") {
                    index += 1
                    skipSpace()
                    guard let parsed = token() ?? quoted() else { return nil }
                    // RFC 6455 §9.1: a quoted value must still be a token once unquoted.
                    guard !parsed.isEmpty, parsed.utf8.allSatisfy(isTokenCharacter) else { return nil }
                    value = parsed
                    skipSpace()
                }
                parameters.append((parameter, value))
            }
            result.append(Extension(name: name, parameters: parameters))
            skipSpace()
            if index == bytes.count { break }
            guard bytes[index] == UInt8(ascii: ",") else { return nil }
            index += 1
        }
        return result
    }

    /// RFC 7230 tchar.
    static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}
