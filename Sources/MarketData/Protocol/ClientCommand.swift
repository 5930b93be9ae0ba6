import ByteBuffers
/// A request from a subscriber, decoded from its protocol's JSON.
public enum ClientCommand: Equatable, Sendable {
    /// Symbols are syntax-checked and deduplicated, in the order sent.
    case subscribe(symbols: [String], depth: Int, options: SubscribeOptions = SubscribeOptions())
    case unsubscribe(symbols: [String])
    /// v2 only: which symbols the gateway serves.
    case listSymbols
}

/// What a v2 client may ask of a subscription beyond its symbols and depth. A client that asks
/// for none of it sees the stream as before.
public struct SubscribeOptions: Equatable, Sendable {
    /// `"epoch":true`: the `subscribed` reply names the sequence space (`MarketEpoch`).
    public var epoch = false
    /// `"delta":true`: updates after the first come as deltas (`DeltaEncoder`).
    public var delta = false
    /// `"max_rate":N`: at most N updates per second for each symbol of this subscribe, the
    /// newest state winning.
    public var maxRate: Int?

    /// Caps a client may ask for: from one update a second to more than any feed here sends.
    public static let maxRates = 1...1000

    public init(epoch: Bool = false, delta: Bool = false, maxRate: Int? = nil) {
        self.epoch = epoch
        self.delta = delta
        self.maxRate = maxRate
    }

    /// Whether the client asked for anything beyond symbols and depth: such a subscribe is
    /// answered with the reply's newer fields (the options it got, and the symbols without
    /// data), while one that asks for nothing gets exactly the reply it always got.
    public var asksForMore: Bool { epoch || delta || maxRate != nil }
}

/// Why a client message was refused; sent back as `{"type":"error","code":..,"message":..}`.
/// The connection stays open.
public struct CommandError: Error, Equatable, Sendable {
    public let code: String
    public let message: String

    public init(_ code: String, _ message: String) {
        self.code = code
        self.message = message
    }

    public static func invalidJSON(_ detail: String) -> CommandError { CommandError("invalid_json", "invalid JSON: \(detail)") }
    public static func invalidMessage(_ detail: String) -> CommandError { CommandError("invalid_message", detail) }
    public static func unknownType(_ type: String) -> CommandError { CommandError("unknown_type", "unknown message type \"\(type)\"") }
    public static func invalidSymbol(_ symbol: String) -> CommandError {
        CommandError("invalid_symbol", "invalid symbol \"\(symbol)\": expected ^[A-Z0-9][A-Z0-9._-]{0,15}$")
    }
    public static let invalidDepth = CommandError("invalid_depth", "depth must be an integer from 1 to \(BookState.maxLevels)")
    public static let invalidMaxRate = CommandError(
        "invalid_max_rate", "max_rate must be an integer from \(SubscribeOptions.maxRates.lowerBound) to \(SubscribeOptions.maxRates.upperBound) (updates per second)")
    public static func tooManySubscriptions(_ limit: Int) -> CommandError {
        CommandError("too_many_subscriptions", "at most \(limit) symbols per connection")
    }
    public static func rateLimited(_ perSecond: Int) -> CommandError {
        CommandError("rate_limited", "more than \(perSecond) messages per second: this one was dropped; keep going and the connection closes with 1008")
    }
    public static func forbiddenSymbols(_ names: [String]) -> CommandError {
        CommandError("forbidden_symbol", "your token does not allow \(names.prefix(10).joined(separator: ", "))\(names.count > 10 ? ", ..." : "")")
    }
    public static let tokenExpired = CommandError("token_expired", "your token expired: connect again with a new one")
    public static let binaryNotSupported = CommandError("binary_not_supported", "send commands as text messages")
}

/// Decodes client messages for each protocol version.
///
/// v1: `{"type":"subscribe","symbol":"AAPL"}`, `{"type":"unsubscribe","symbol":"AAPL"}`.
/// v2: `{"type":"subscribe","symbols":["AAPL"],"depth":10,"epoch":true,"delta":true,"max_rate":4}`
///     (depth 1...50, default 1; epoch, delta and max_rate optional),
///     `{"type":"unsubscribe","symbols":["AAPL"]}`.
/// A command naming any invalid symbol is refused whole: nothing is half-applied.
public enum CommandDecoder {
    public static func decode(_ bytes: UnsafeRawBufferPointer, version: ProtocolVersion) -> Result<ClientCommand, CommandError> {
        var reader = JSONReader(bytes)
        var type: String?
        var symbol: String?
        var symbols: [String]?
        var depth: Int?
        var options = SubscribeOptions()
        var badSymbol: String?
        do {
            guard reader.peekValueStart() == UInt8(ascii: "{") else {
                // Valid JSON that is not an object is a message error, not a JSON error.
                try reader.skipValue()
                try reader.finish()
                return .failure(.invalidMessage("a command is a JSON object"))
            }
            try reader.readObject { reader, key in
                if bytesEqual(key, "type") {
                    type = try string(&reader, field: "type")
                } else if bytesEqual(key, "symbol") && version == .v1 {
                    let text = try string(&reader, field: "symbol")
                    symbol = text
                    if !SymbolSyntax.isValid(text) { badSymbol = badSymbol ?? text }
                } else if bytesEqual(key, "symbols") && version == .v2 {
                    guard reader.peekValueStart() == UInt8(ascii: "[") else {
                        throw CommandError.invalidMessage("\"symbols\" must be an array of strings")
                    }
                    var list: [String] = []
                    try reader.readArray { reader, _ in
                        let text = try string(&reader, field: "symbols")
                        if !SymbolSyntax.isValid(text) { badSymbol = badSymbol ?? text }
                        if !list.contains(text) { list.append(text) }
                    }
                    symbols = list
                } else if bytesEqual(key, "depth") && version == .v2 {
                    guard let start = reader.peekValueStart(), start == UInt8(ascii: "-") || (start >= UInt8(ascii: "0") && start <= UInt8(ascii: "9")),
                          let value = try? reader.readInteger(in: 1...Int64(BookState.maxLevels)) else {
                        throw CommandError.invalidDepth
                    }
                    depth = Int(value)
                } else if bytesEqual(key, "epoch") && version == .v2 {
                    options.epoch = try boolean(&reader, field: "epoch")
                } else if bytesEqual(key, "delta") && version == .v2 {
                    options.delta = try boolean(&reader, field: "delta")
                } else if bytesEqual(key, "max_rate") && version == .v2 {
                    let range = Int64(SubscribeOptions.maxRates.lowerBound)...Int64(SubscribeOptions.maxRates.upperBound)
                    guard let start = reader.peekValueStart(), start == UInt8(ascii: "-") || (start >= UInt8(ascii: "0") && start <= UInt8(ascii: "9")),
                          let value = try? reader.readInteger(in: range) else {
                        throw CommandError.invalidMaxRate
                    }
                    options.maxRate = Int(value)
                } else {
                    try reader.skipValue()
                }
            }
            try reader.finish()
        } catch let error as CommandError {
            return .failure(error)
        } catch let error as JSONReader.Failure {
            return .failure(.invalidJSON(error.message))
        } catch {
            return .failure(.invalidJSON("\(error)"))
        }
        guard let type else { return .failure(.invalidMessage("missing \"type\"")) }
        if type == "list_symbols" && version == .v2 { return .success(.listSymbols) }
        guard type == "subscribe" || type == "unsubscribe" else { return .failure(.unknownType(type)) }
        let requested: [String]
        switch version {
        case .v1:
            guard let symbol else { return .failure(.invalidMessage("missing \"symbol\"")) }
            requested = [symbol]
        case .v2:
            guard let symbols else { return .failure(.invalidMessage("missing \"symbols\"")) }
            guard !symbols.isEmpty else { return .failure(.invalidMessage("\"symbols\" is empty")) }
            requested = symbols
        }
        if let badSymbol { return .failure(.invalidSymbol(badSymbol)) }
        return .success(type == "subscribe" ? .subscribe(symbols: requested, depth: depth ?? 1, options: options) : .unsubscribe(symbols: requested))
    }

    private static func boolean(_ reader: inout JSONReader, field: String) throws -> Bool {
        let start = reader.peekValueStart()
        guard start == UInt8(ascii: "t") || start == UInt8(ascii: "f") else {
            throw CommandError.invalidMessage("\"\(field)\" must be true or false")
        }
        do {
            return try reader.readBool()
        } catch {
            throw CommandError.invalidMessage("\"\(field)\" must be true or false")
        }
    }

    private static func string(_ reader: inout JSONReader, field: String) throws -> String {
        guard reader.peekValueStart() == UInt8(ascii: "\"") else {
            throw CommandError.invalidMessage("\"\(field)\" must be a string")
        }
        do {
            return String(decoding: try reader.readStringBytes(), as: UTF8.self)
        } catch {
            // An escaped string may be valid JSON but is never a valid type or symbol.
            throw CommandError.invalidMessage("\"\(field)\" must be a plain string without escapes")
        }
    }
}
