/// Readers for the server connections of one route, lent while a connection is in the middle
/// of a frame or a fragmented message and taken back when it is between messages.
///
/// Why: a market-data client sends a subscribe and then little more, so at 18,000 connections
/// a reader each (80 bytes) sat idle almost everywhere. A connection at rest holds the pool
/// instead, takes a reader when bytes arrive and gives it back when its read ends at a message
/// boundary, so the readers in use are about as many as connections with input in one loop
/// iteration. Taking and giving back is a pop and a push: no allocation per message.
///
/// One pool per route and event loop (its readers carry the route's message limit); used only
/// on that loop's thread.
public final class MessageReaderPool {
    public let maxMessageLength: Int
    private var free: [MessageReader] = []
    /// Readers kept for reuse; more than this many at rest at once are freed.
    private let limit: Int
    /// Readers made over the pool's life: stays flat while readers come back to be reused.
    public private(set) var readersCreated = 0

    public init(maxMessageLength: Int, limit: Int = 256) {
        self.maxMessageLength = maxMessageLength
        self.limit = limit
    }

    /// Readers waiting to be lent.
    public var freeCount: Int { free.count }

    /// A server-side reader at a message boundary, accepting compressed messages or not.
    public func take(acceptsCompressed: Bool) -> MessageReader {
        let reader: MessageReader
        if let pooled = free.popLast() {
            reader = pooled
        } else {
            readersCreated += 1
            reader = MessageReader(role: .server, maxMessageLength: maxMessageLength)
        }
        reader.acceptsCompressed = acceptsCompressed
        return reader
    }

    /// Takes back a reader that is at rest (`isAtRest`), with nothing of its last connection
    /// left in it. A pooled reader may keep up to 16 KiB of message storage, so the pool holds
    /// at most `limit` × 16 KiB.
    public func recycle(_ reader: MessageReader) {
        precondition(reader.isAtRest, "a reader goes back to the pool only between messages")
        precondition(reader.maxMessageLength == maxMessageLength, "a reader goes back to the pool it came from")
        guard free.count < limit else { return }
        reader.prepareForReuse()
        free.append(reader)
    }
}
