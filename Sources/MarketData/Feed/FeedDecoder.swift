import ByteBuffers
/// One update from a publisher on /feed, decoded.
public struct FeedUpdate: Sendable {
    public var symbol = ""
    public var last = FixedPoint.zero
    public var bid = FixedPoint.zero
    public var ask = FixedPoint.zero
    /// Book levels, best first, when the update carried `book`.
    public var book: [BookLevel] = []
    public var hasBook = false
    /// Feed time in microseconds since the epoch; nil means "stamp it on receipt".
    public var timestamp: Int64?
    /// The symbol's update number, read only from bus messages (a `/feed` publisher's is ignored:
    /// the gateway, or the bus writer, numbers updates).
    public var sequence: UInt64?

    public init() {}
}

extension BookState {
    /// Takes an update's prices, its book when it has one (a bus message always has: it is the
    /// whole state), and its `ts`, or `receivedAt` without one. In place: the levels keep
    /// their capacity.
    public mutating func merge(_ update: FeedUpdate, receivedAt timestamp: Int64) {
        last = update.last
        bid = update.bid
        ask = update.ask
        if update.hasBook {
            levels.removeAll(keepingCapacity: true)
            levels.append(contentsOf: update.book)
        }
        self.timestamp = update.timestamp ?? timestamp
    }
}

/// Decodes publisher messages (protocol `feed.v1`): one update object, or an array of them.
///
/// `{"symbol":"AAPL","last":189.25,"bid":189.24,"ask":189.26,"book":[[bp,bs,ap,as],...],"ts":1764165600123456}`
/// with `symbol`, `last`, `bid` and `ask` required, `book` (at most 50 levels) and `ts`
/// optional. Any `seq` is ignored: the gateway numbers updates itself. Each invalid update is
/// reported with its index and skipped; the valid ones of the same batch are applied.
public struct FeedDecoder {
    private var scratch = FeedUpdate()
    /// Bus messages carry their `seq` (required, 1 or more) and the whole state: without
    /// `book`, the book is empty rather than "unchanged".
    private let busMessages: Bool

    /// `busMessages`: decode what the market bus carries rather than what a publisher sends.
    public init(busMessages: Bool = false) {
        self.busMessages = busMessages
    }

    /// Calls `onUpdate` for each valid update and `onError` for each invalid one, in order.
    /// Returns an error (and calls neither) when the message is not valid JSON or not an
    /// object or array of objects.
    public mutating func decode(_ bytes: UnsafeRawBufferPointer,
                                onUpdate: (Int, FeedUpdate) -> Void,
                                onError: (Int, String) -> Void) -> CommandError? {
        // First pass: the whole message must be well-formed before anything is applied.
        var check = JSONReader(bytes)
        do {
            try check.skipValue()
            try check.finish()
        } catch let failure as JSONReader.Failure {
            return .invalidJSON(failure.message)
        } catch {
            return .invalidJSON("\(error)")
        }
        var reader = JSONReader(bytes)
        switch reader.peekValueStart() {
        case UInt8(ascii: "{"):
            decodeOne(&reader, index: 0, onUpdate: onUpdate, onError: onError)
        case UInt8(ascii: "["):
            try? reader.readArray { reader, index in
                decodeOne(&reader, index: index, onUpdate: onUpdate, onError: onError)
            }
        default:
            return .invalidMessage("a feed message is an update object or an array of them")
        }
        return nil
    }

    /// One bus message (a single object), in one pass: nil when it is not valid JSON, not one
    /// object, or not a valid update. (`decode` checks a whole batch first, so nothing of a
    /// broken batch is applied; one object needs no second pass for that: nothing is
    /// returned unless the object parsed to its end.)
    public mutating func decodeBusMessage(_ bytes: UnsafeRawBufferPointer) -> FeedUpdate? {
        var reader = JSONReader(bytes)
        guard reader.peekValueStart() == UInt8(ascii: "{") else { return nil }
        var decoded: FeedUpdate?
        decodeOne(&reader, index: 0, onUpdate: { decoded = $1 }, onError: { _, _ in })
        guard (try? reader.finish()) != nil else { return nil }
        return decoded
    }

    private mutating func decodeOne(_ reader: inout JSONReader, index: Int,
                                    onUpdate: (Int, FeedUpdate) -> Void, onError: (Int, String) -> Void) {
        guard reader.peekValueStart() == UInt8(ascii: "{") else {
            try? reader.skipValue()
            onError(index, "an update must be an object")
            return
        }
        scratch.book.removeAll(keepingCapacity: true)
        scratch.timestamp = nil
        scratch.sequence = nil
        scratch.hasBook = busMessages
        var seen: (symbol: Bool, last: Bool, bid: Bool, ask: Bool) = (false, false, false, false)
        var problem: String?
        var update = scratch
        // The book's storage now belongs to `update` alone, so appending levels allocates nothing.
        scratch.book = []
        // In a batch the document was checked first; a bus message was not, and a value that
        // cannot even be skipped ends it as not well-formed.
        let wellFormed = (try? reader.readObject { reader, key in
            _ = reader.peekValueStart()
            let valueStart = reader.index
            do {
                if bytesEqual(key, "symbol") {
                    let raw = try reader.readStringBytes()
                    guard SymbolSyntax.isValid(raw) else { throw JSONReader.Failure("invalid symbol \"\(String(decoding: raw, as: UTF8.self))\"") }
                    update.symbol = String(decoding: raw, as: UTF8.self)
                    seen.symbol = true
                } else if bytesEqual(key, "last") {
                    update.last = try Self.price(&reader, "last")
                    seen.last = true
                } else if bytesEqual(key, "bid") {
                    update.bid = try Self.price(&reader, "bid")
                    seen.bid = true
                } else if bytesEqual(key, "ask") {
                    update.ask = try Self.price(&reader, "ask")
                    seen.ask = true
                } else if bytesEqual(key, "ts") {
                    update.timestamp = try reader.readInteger(in: 0...Int64.max)
                } else if busMessages && bytesEqual(key, "seq") {
                    update.sequence = UInt64(try reader.readInteger(in: 1...Int64.max))
                } else if bytesEqual(key, "book") {
                    guard reader.peekValueStart() == UInt8(ascii: "[") else { throw JSONReader.Failure("\"book\" must be an array of levels") }
                    update.hasBook = true
                    try reader.readArray { reader, level in
                        guard level < BookState.maxLevels else { throw JSONReader.Failure("\"book\" has more than \(BookState.maxLevels) levels") }
                        guard reader.peekValueStart() == UInt8(ascii: "[") else {
                            throw JSONReader.Failure("a book level is [bidPrice,bidSize,askPrice,askSize]")
                        }
                        var values = (FixedPoint.zero, FixedPoint.zero, FixedPoint.zero, FixedPoint.zero)
                        var count = 0
                        try reader.readArray { reader, position in
                            guard position < 4 else { throw JSONReader.Failure("a book level is [bidPrice,bidSize,askPrice,askSize]") }
                            let value = try Self.price(&reader, "book")
                            switch position {
                            case 0: values.0 = value
                            case 1: values.1 = value
                            case 2: values.2 = value
                            default: values.3 = value
                            }
                            count += 1
                        }
                        guard count == 4 else { throw JSONReader.Failure("a book level is [bidPrice,bidSize,askPrice,askSize]") }
                        update.book.append(BookLevel(bidPrice: values.0, bidSize: values.1, askPrice: values.2, askSize: values.3))
                    }
                } else {
                    try reader.skipValue()
                }
            } catch let failure as JSONReader.Failure {
                problem = problem ?? failure.message
                // Skip the whole value and go on (to the next field's problem, if any).
                reader.rewind(to: valueStart)
                try reader.skipValue()
            }
        }) != nil
        scratch = update
        if !wellFormed {
            onError(index, "not valid JSON")
        } else if let problem {
            onError(index, problem)
        } else if !(seen.symbol && seen.last && seen.bid && seen.ask) {
            onError(index, "an update needs \"symbol\", \"last\", \"bid\" and \"ask\"")
        } else if busMessages && update.sequence == nil {
            onError(index, "a bus message needs \"seq\"")
        } else {
            onUpdate(index, update)
        }
    }

    private static func price(_ reader: inout JSONReader, _ field: StaticString) throws -> FixedPoint {
        guard let start = reader.peekValueStart(), start == UInt8(ascii: "-") || (start >= UInt8(ascii: "0") && start <= UInt8(ascii: "9")) else {
            throw JSONReader.Failure("\"\(field)\" must be a number")
        }
        let value = try reader.readFixedPoint()
        guard value.units >= 0 else { throw JSONReader.Failure("\"\(field)\" must not be negative") }
        return value
    }
}
