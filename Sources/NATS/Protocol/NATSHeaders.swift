import ByteBuffers

/// The header block of an `HMSG`: a status line (`NATS/1.0`, or `NATS/1.0 404 Message Not
/// Found` for a status reply) and `Name: value` fields. Parsed on cold paths (JetStream
/// replies), so it copies.
public struct NATSHeaders: Equatable, Sendable, HeaderFields {
    /// The status code of a status reply (404, 408, 503...), nil for plain headers.
    public let status: Int?
    /// The words after the status code.
    public let statusDescription: String
    public let fields: [(name: String, value: String)]

    public init?(_ bytes: UnsafeRawBufferPointer) {
        let text = String(decoding: bytes, as: UTF8.self)
        var lines = text.split(separator: "\r\n", omittingEmptySubsequences: true).map(String.init)
        guard let first = lines.first, first.hasPrefix("NATS/") else { return nil }
        lines.removeFirst()
        let parts = first.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
        status = parts.count > 1 ? Int(parts[1]) : nil
        statusDescription = parts.count > 2 ? String(parts[2]) : ""
        fields = lines.compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            let value = line[line.index(after: colon)...].drop(while: { $0 == " " })
            return (String(line[..<colon]), String(value))
        }
    }

    /// The first value of the field `name` (case-insensitive).
    public func value(_ name: String) -> String? { header(name) }

    public static func == (a: NATSHeaders, b: NATSHeaders) -> Bool {
        a.status == b.status && a.statusDescription == b.statusDescription
            && a.fields.map(\.name) == b.fields.map(\.name) && a.fields.map(\.value) == b.fields.map(\.value)
    }
}
