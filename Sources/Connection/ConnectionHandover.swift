import EventLoop
import WebSocket

/// An open server connection on its way to another process (a live handover): what its next
/// owner needs to continue it mid-stream, beside the descriptor itself. The peer notices
/// nothing: the same TCP connection, the same partial message, the same output stream.
public struct ConnectionHandover: Sendable, Equatable {
    public var subprotocol: String?
    /// permessage-deflate as agreed, when it was.
    public var deflate: DeflateParameters?
    /// Nanoseconds since the peer's last input, and since our last ping (`.max`: never pinged).
    public var silentFor: UInt64
    public var sincePing: UInt64
    /// The message-rate bucket: nanoseconds of messages not yet earned back, refusals in a row.
    public var rateDebt: UInt64
    public var refusedInARow: Int32
    /// The fragmented message in progress, if any.
    public var reader: MessageReader.Progress
    /// Input read and not consumed (an incomplete frame, masked as it came).
    public var input: [UInt8]
    /// Output queued and not written (it continues the byte stream exactly where it stopped).
    public var output: [UInt8]

    public init(subprotocol: String?, deflate: DeflateParameters?, silentFor: UInt64, sincePing: UInt64, rateDebt: UInt64,
                refusedInARow: Int32, reader: MessageReader.Progress, input: [UInt8], output: [UInt8]) {
        self.subprotocol = subprotocol
        self.deflate = deflate
        self.silentFor = silentFor
        self.sincePing = sincePing
        self.rateDebt = rateDebt
        self.refusedInARow = refusedInARow
        self.reader = reader
        self.input = input
        self.output = output
    }
}

extension WebSocketConnection {
    /// Whether the connection can move to another process: an open server WebSocket that has
    /// not started closing, on a plaintext socket, whose peer does not keep a compression
    /// window (a zlib stream cannot move). Others are drained the usual way.
    public var canHandOver: Bool {
        role == .server && acceptsData && hasReader && socket.canDetach && !(compression?.keepsPeerContext ?? false)
    }

    /// Leaves this process: writes what the socket takes, then returns the descriptor (now the
    /// caller's) and the state that continues the connection elsewhere. The connection is
    /// closed here without a word to the peer or to the session; the caller has already taken
    /// what it needs from the session. Nil when it cannot move, or the socket failed while
    /// writing (then it closed the usual way).
    public func handOver() -> (fd: Int32, state: ConnectionHandover)? {
        guard canHandOver else { return nil }
        let now = socket.loop.now
        guard let progress = socket.withBufferedInput({ suspendReader(unconsumed: $0) }) else { return nil }
        guard let detached = socket.detach() else { return nil }
        let bucket = rateLimiter?.carried(now: now)
        let state = ConnectionHandover(
            subprotocol: subprotocol, deflate: compression?.parameters, silentFor: now &- lastInputAt,
            sincePing: lastPingAt == 0 ? .max : now &- lastPingAt, rateDebt: bucket?.debt ?? 0,
            refusedInARow: bucket?.refusedInARow ?? 0, reader: progress, input: detached.input, output: detached.output)
        endForHandover()
        return (detached.fd, state)
    }
}
