import ByteBuffers
import WebSocket

/// Encodes a symbol's state as one protocol variant's JSON. One encoding per variant per
/// update; the result is framed once and shared by every subscriber of that variant.
public enum UpdateEncoder {
    /// v1: `{"symbol":"AAPL","price":189.25}`, price being the last trade.
    public static func writeV1(symbol: String, state: BookState, to writer: inout ByteWriter) {
        writer.write("{\"symbol\":\"")
        writer.write(raw: symbol)
        writer.write("\",\"price\":")
        writer.write(state.last)
        writer.write(byte: UInt8(ascii: "}"))
    }

    /// v2: `{"symbol","last","bid","ask","depth":[[bidPrice,bidSize,askPrice,askSize],...],"seq","ts"}`
    /// with the first `depth` book levels.
    public static func writeV2(symbol: String, state: BookState, depth: Int, to writer: inout ByteWriter) {
        writeFullState(symbol: symbol, state: state, bookKey: "depth", levels: min(depth, state.levels.count), to: &writer)
    }

    /// A bus message: the symbol's whole state after an update, book and all, with its `seq`
    /// and `ts` (`{"symbol","last","bid","ask","book":[...],"seq","ts"}`), so the last message
    /// of a subject is a complete snapshot. It is also a valid `feed.v1` update.
    public static func writeBusState(symbol: String, state: BookState, to writer: inout ByteWriter) {
        writeFullState(symbol: symbol, state: state, bookKey: "book", levels: state.levels.count, to: &writer)
    }

    private static func writeFullState(symbol: String, state: BookState, bookKey: StaticString, levels: Int, to writer: inout ByteWriter) {
        writer.write("{\"symbol\":\"")
        writer.write(raw: symbol)
        writer.write("\",\"last\":")
        writer.write(state.last)
        writer.write(",\"bid\":")
        writer.write(state.bid)
        writer.write(",\"ask\":")
        writer.write(state.ask)
        writer.write(",\"")
        writer.write(bookKey)
        writer.write("\":[")
        for i in 0..<levels {
            let level = state.levels[i]
            writer.write(i == 0 ? "[" : ",[")
            writer.write(level.bidPrice)
            writer.write(byte: UInt8(ascii: ","))
            writer.write(level.bidSize)
            writer.write(byte: UInt8(ascii: ","))
            writer.write(level.askPrice)
            writer.write(byte: UInt8(ascii: ","))
            writer.write(level.askSize)
            writer.write(byte: UInt8(ascii: "]"))
        }
        writer.write("],\"seq\":")
        writer.write(state.seq)
        writer.write(",\"ts\":")
        writer.write(state.timestamp)
        writer.write(byte: UInt8(ascii: "}"))
    }

    public static func write(symbol: String, state: BookState, variant: ProtocolVariant, to writer: inout ByteWriter) {
        if variant == .v1 {
            writeV1(symbol: symbol, state: state, to: &writer)
        } else {
            writeV2(symbol: symbol, state: state, depth: variant.depth, to: &writer)
        }
    }
}

/// Builds whole server frames (header + payload) in one allocation.
public enum FrameBuilder {
    /// A text frame holding `payload`; `compressed`: the payload is permessage-deflate
    /// output and the frame carries RSV1.
    public static func textFrame(_ payload: UnsafeRawBufferPointer, compressed: Bool = false) -> SharedBytes {
        SharedBytes.make(count: FrameEncoder.frameLength(payloadLength: payload.count)) { destination in
            FrameEncoder.writeFrame(into: destination, opcode: .text, compressed: compressed, payload: payload)
        }
    }
}

/// The control messages of both protocols: acks (v2) and errors (both).
public enum ServerMessages {
    public static func error(_ error: CommandError, to writer: inout ByteWriter) {
        writer.write("{\"type\":\"error\",\"code\":\"")
        writer.writeEscaped(error.code)
        writer.write("\",\"message\":\"")
        writer.writeEscaped(error.message)
        writer.write("\"}")
    }

    /// `{"type":"symbols","symbols":[...]}`: the answer to v2's `list_symbols`.
    public static func symbolList(_ symbols: [String], to writer: inout ByteWriter) {
        writer.write("{\"type\":\"symbols\",\"symbols\":")
        symbolArray(symbols, to: &writer)
        writer.write("}")
    }

    /// `["AAPL","MSFT"]`: symbols need no escaping (their syntax allows none).
    public static func symbolArray(_ symbols: [String], to writer: inout ByteWriter) {
        writer.write(byte: UInt8(ascii: "["))
        for (i, symbol) in symbols.enumerated() {
            writer.write(i == 0 ? "\"" : ",\"")
            writer.write(raw: symbol)
            writer.write(byte: UInt8(ascii: "\""))
        }
        writer.write(byte: UInt8(ascii: "]"))
    }

    /// `{"type":"subscribed","symbols":[...],"depth":N}` or `{"type":"unsubscribed","symbols":[...]}`.
    /// A subscribe that asked for more (`SubscribeOptions.asksForMore`) is answered with what
    /// it got too: `"epoch"` when asked, `"delta":true`, `"max_rate":N`, and `"unknown"`, the
    /// symbols nobody publishes now (kept subscribed: they may appear later).
    /// `options` is what the subscription got (feature flags may decline what it asked for);
    /// `answersMore`: the subscribe asked for more, so the reply has the newer fields.
    public static func ack(subscribed: Bool, symbols: [String], depth: Int?, options: SubscribeOptions? = nil, answersMore: Bool? = nil,
                           epoch: MarketEpoch? = nil, unknown: [String] = [], to writer: inout ByteWriter) {
        writer.write(subscribed ? "{\"type\":\"subscribed\",\"symbols\":" : "{\"type\":\"unsubscribed\",\"symbols\":")
        symbolArray(symbols, to: &writer)
        if let depth {
            writer.write(",\"depth\":")
            writer.write(depth)
        }
        if let options, answersMore ?? options.asksForMore {
            if options.epoch, let epoch {
                writer.write(",\"epoch\":\"")
                writer.write(raw: epoch.value)
                writer.write(byte: UInt8(ascii: "\""))
            }
            if options.delta { writer.write(",\"delta\":true") }
            if let rate = options.maxRate {
                writer.write(",\"max_rate\":")
                writer.write(rate)
            }
            writer.write(",\"unknown\":")
            symbolArray(unknown, to: &writer)
        }
        writer.write(byte: UInt8(ascii: "}"))
    }

    /// v2's notice before a drain closes the connection.
    public static func reconnect(reason: String, retryAfterMilliseconds: Int, to writer: inout ByteWriter) {
        writer.write("{\"type\":\"reconnect\",\"reason\":\"")
        writer.writeEscaped(reason)
        writer.write("\",\"retry_after_ms\":")
        writer.write(retryAfterMilliseconds)
        writer.write(byte: UInt8(ascii: "}"))
    }
}
