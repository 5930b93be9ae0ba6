/// What a server says about itself in INFO, the parts the client uses. Parsed on a cold path
/// (once per connection and on cluster changes) with a small field scanner rather than a full
/// JSON decoder.
public struct NATSServerInfo: Sendable, Equatable {
    public var serverName = ""
    public var version = ""
    public var maxPayload = 1 << 20
    public var headers = false
    public var jetStream = false
    /// Lame duck mode: the server is about to shut down and asks clients to move.
    public var lameDuck = false

    public init() {}

    public init(json: UnsafeRawBufferPointer) {
        let text = String(decoding: json, as: UTF8.self)
        serverName = Self.string(text, "server_name") ?? ""
        version = Self.string(text, "version") ?? ""
        if let value = Self.raw(text, "max_payload"), let number = Int(value), number > 0 { maxPayload = number }
        headers = Self.raw(text, "headers") == "true"
        jetStream = Self.raw(text, "jetstream") == "true"
        lameDuck = Self.raw(text, "ldm") == "true"
    }

    /// The unquoted value of a top-level `"key":value` (a number or a literal).
    static func raw(_ text: String, _ key: String) -> String? {
        guard let range = text.firstRange(of: "\"\(key)\":") else { return nil }
        let value = text[range.upperBound...].drop(while: { $0 == " " }).prefix { $0 != "," && $0 != "}" && $0 != " " }
        return value.isEmpty ? nil : String(value)
    }

    /// The value of a top-level `"key":"value"` without escapes (names and versions have none).
    static func string(_ text: String, _ key: String) -> String? {
        guard let range = text.firstRange(of: "\"\(key)\":") else { return nil }
        let rest = text[range.upperBound...].drop(while: { $0 == " " })
        guard rest.first == "\"" else { return nil }
        return String(rest.dropFirst().prefix { $0 != "\"" })
    }
}
