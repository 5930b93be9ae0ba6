/// Looking up `Name: value` fields by case-insensitive name: one copy for the heads of HTTP
/// requests and responses and for NATS message headers.
public protocol HeaderFields {
    /// The fields in order, as received.
    var fields: [(name: String, value: String)] { get }
}

extension HeaderFields {
    /// The first value of a field.
    public func header(_ name: String) -> String? {
        fields.first { Self.same($0.name, name) }?.value
    }

    /// Every value of a field, one per time it appears.
    public func values(_ name: String) -> [String] {
        fields.filter { Self.same($0.name, name) }.map(\.value)
    }

    /// All values of a field, split at commas into trimmed tokens, across repeated fields.
    public func tokens(_ name: String) -> [String] {
        values(name).flatMap { value in
            value.split(separator: ",").map { $0.trimmingOptionalWhitespace() }.filter { !$0.isEmpty }
        }
    }

    /// Whether a comma-separated field holds a token, compared case-insensitively.
    public func hasToken(_ name: String, _ token: String) -> Bool {
        tokens(name).contains { Self.same($0, token) }
    }

    /// ASCII case-insensitive equality (field names and tokens are ASCII).
    static func same(_ a: some StringProtocol, _ b: some StringProtocol) -> Bool {
        a.utf8.count == b.utf8.count && zip(a.utf8, b.utf8).allSatisfy { x, y in
            x == y || (x | 0x20 == y | 0x20 && (x | 0x20) >= UInt8(ascii: "a") && (x | 0x20) <= UInt8(ascii: "z"))
        }
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs (HTTP's optional whitespace).
    public func trimmingOptionalWhitespace() -> String {
        guard let first = firstIndex(where: { $0 != " " && $0 != "\t" }) else { return "" }
        let last = lastIndex(where: { $0 != " " && $0 != "\t" })!
        return String(self[first...last])
    }
}
