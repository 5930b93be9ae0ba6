import MarketData

/// Publisher messages: a batch decodes to valid updates and per-index errors, or is refused
/// whole; every update it yields is one the book store can take. Bus messages, decoded in one
/// pass, agree with the two-pass batch decoder: the same input is one valid update to both,
/// or to neither.
public enum FeedTarget {
    public static func run(_ data: UnsafeRawBufferPointer) {
        var decoder = FeedDecoder()
        var lastIndex = -1
        _ = decoder.decode(data, onUpdate: { index, update in
            precondition(index > lastIndex)
            lastIndex = index
            precondition(SymbolSyntax.isValid(update.symbol))
            precondition(update.book.count <= BookState.maxLevels)
        }, onError: { index, message in
            precondition(index > lastIndex && !message.isEmpty)
            lastIndex = index
        })

        var busDecoder = FeedDecoder(busMessages: true)
        let single = busDecoder.decodeBusMessage(data)
        var checked = FeedDecoder(busMessages: true)
        var updates: [FeedUpdate] = []
        var errors = 0
        let refused = checked.decode(data, onUpdate: { updates.append($1) }, onError: { _, _ in errors += 1 })
        let isObject = data.first(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }) == UInt8(ascii: "{")
        if let single {
            precondition(refused == nil && errors == 0 && updates.count == 1 && isObject)
            let other = updates[0]
            precondition(other.symbol == single.symbol && other.sequence == single.sequence && other.last == single.last
                && other.book == single.book && other.timestamp == single.timestamp)
        } else if isObject {
            precondition(refused != nil || updates.isEmpty)
        }
    }
}
