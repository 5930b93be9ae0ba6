import MarketData

/// Publisher messages: a batch decodes to valid updates and per-index errors, or is refused
/// whole; every update it yields is one the book store can take.
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
    }
}
