import ByteBuffers

/// Why a flag's value was refused; the flags held before stay.
public struct FlagError: Error, Equatable, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A flag's value as JSON, the same in the key-value bucket (one key per flag) and in a flags
/// file (one object of them by name):
///
/// `{"enabled":true,"percent":5,"allow":["alice","bob"],"by":"ops@host","reason":"widen to 5%"}`
///
/// `enabled` is required; `percent` (0 to 100, default 0), `allow` (user ids, at most 10,000),
/// `by` and `reason` are optional; strings are plain, without escapes. Anything else is refused whole, so that a misspelt field
/// (`"percentage"`) is an error, not a silent 0%.
public enum FlagCodec {
    public static let maxAllowed = 10_000

    public static func decode(name: String, _ bytes: UnsafeRawBufferPointer) -> Result<FeatureFlag, FlagError> {
        guard FeatureFlag.isValidName(name) else { return .failure(FlagError("flag name \"\(name)\": expected [a-z0-9][a-z0-9_-]{0,63}")) }
        var reader = JSONReader(bytes)
        do {
            guard reader.peekValueStart() == UInt8(ascii: "{") else { throw FlagError("a flag is a JSON object") }
            let flag = try decodeObject(name: name, &reader)
            try reader.finish()
            return .success(flag)
        } catch let error as FlagError {
            return .failure(FlagError("flag \(name): \(error.description)"))
        } catch let error as JSONReader.Failure {
            return .failure(FlagError("flag \(name): invalid JSON: \(error.message)"))
        } catch {
            return .failure(FlagError("flag \(name): \(error)"))
        }
    }

    public static func decode(name: String, _ text: String) -> Result<FeatureFlag, FlagError> {
        var text = text
        return text.withUTF8 { decode(name: name, UnsafeRawBufferPointer($0)) }
    }

    /// A flags file: `{"<name>": <flag>, ...}`. One bad flag refuses the file whole.
    public static func decodeFile(_ bytes: UnsafeRawBufferPointer) -> Result<[String: FeatureFlag], FlagError> {
        var reader = JSONReader(bytes)
        var flags: [String: FeatureFlag] = [:]
        do {
            guard reader.peekValueStart() == UInt8(ascii: "{") else { throw FlagError("a flags file is a JSON object of flags by name") }
            try reader.readObject { reader, key in
                let name = String(decoding: key, as: UTF8.self)
                guard FeatureFlag.isValidName(name) else { throw FlagError("flag name \"\(name)\": expected [a-z0-9][a-z0-9_-]{0,63}") }
                guard reader.peekValueStart() == UInt8(ascii: "{") else { throw FlagError("flag \(name): a flag is a JSON object") }
                do {
                    flags[name] = try decodeObject(name: name, &reader)
                } catch let error as FlagError {
                    throw FlagError("flag \(name): \(error.description)")
                }
            }
            try reader.finish()
            return .success(flags)
        } catch let error as FlagError {
            return .failure(error)
        } catch let error as JSONReader.Failure {
            return .failure(FlagError("invalid JSON: \(error.message)"))
        } catch {
            return .failure(FlagError("\(error)"))
        }
    }

    private static func decodeObject(name: String, _ reader: inout JSONReader) throws -> FeatureFlag {
        var enabled: Bool?
        var percent = 0.0
        var allow: Set<String> = []
        var by: String?
        var reason: String?
        try reader.readObject { reader, key in
            if bytesEqual(key, "enabled") {
                guard let start = reader.peekValueStart(), start == UInt8(ascii: "t") || start == UInt8(ascii: "f") else {
                    throw FlagError("\"enabled\" must be true or false")
                }
                enabled = try reader.readBool()
            } else if bytesEqual(key, "percent") {
                let number = String(decoding: try reader.readNumberBytes(), as: UTF8.self)
                guard let value = Double(number), (0...100).contains(value) else { throw FlagError("\"percent\" must be a number from 0 to 100") }
                percent = value
            } else if bytesEqual(key, "allow") {
                guard reader.peekValueStart() == UInt8(ascii: "[") else { throw FlagError("\"allow\" must be an array of user ids") }
                try reader.readArray { reader, index in
                    guard index < maxAllowed else { throw FlagError("\"allow\" holds at most \(maxAllowed) user ids") }
                        guard reader.peekValueStart() == UInt8(ascii: "\"") else { throw FlagError("\"allow\" must be an array of user ids") }
                    allow.insert(try plainString(&reader))
                }
            } else if bytesEqual(key, "by") || bytesEqual(key, "reason") {
                guard reader.peekValueStart() == UInt8(ascii: "\"") else { throw FlagError("\"by\" and \"reason\" must be strings") }
                let text = try plainString(&reader)
                if bytesEqual(key, "by") { by = text } else { reason = text }
            } else {
                throw FlagError("unknown field \"\(String(decoding: key, as: UTF8.self))\" (known: enabled, percent, allow, by, reason)")
            }
        }
        guard let enabled else { throw FlagError("\"enabled\" is required") }
        return FeatureFlag(name: name, enabled: enabled, allow: allow, percent: percent, by: by, reason: reason)
    }

    /// Strings here are ids and short notes: plain, without escapes.
    private static func plainString(_ reader: inout JSONReader) throws -> String {
        do {
            return String(decoding: try reader.readStringBytes(), as: UTF8.self)
        } catch {
            throw FlagError("user ids, \"by\" and \"reason\" are plain strings without escapes (no quotes, backslashes or control characters)")
        }
    }

    /// The flag's value as the bucket and the file hold it.
    public static func encode(_ flag: FeatureFlag) -> String {
        var text = "{\"enabled\":\(flag.enabled),\"percent\":\(format(flag.percent))"
        text += ",\"allow\":[" + flag.allow.sorted().map(JSONText.quoted).joined(separator: ",") + "]"
        if let by = flag.by { text += ",\"by\":" + JSONText.quoted(by) }
        if let reason = flag.reason { text += ",\"reason\":" + JSONText.quoted(reason) }
        return text + "}"
    }

    public static func encodeFile(_ flags: [String: FeatureFlag]) -> String {
        "{\n" + flags.keys.sorted().map { "  " + JSONText.quoted($0) + ": " + encode(flags[$0]!) }.joined(separator: ",\n") + "\n}\n"
    }

    /// `5`, `2.5`: a percentage without a trailing `.0`.
    public static func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}
