import Auth
import CShims
import Connection
import MarketData
import WebSocket

/// One `/ws` connection as it moves: the connection's state (`ConnectionHandover`) and the
/// session's: protocol, subscriptions with their variants, the token's claims, and how long it
/// has been conflating (its slow-consumer clock keeps running across the move).
struct SessionHandover: Equatable {
    var connection: ConnectionHandover
    var version: ProtocolVersion
    /// Symbol names with the variant each is encoded in (`ProtocolVariant.index`).
    var subscriptions: [Subscription]
    var claims: AccessClaims?
    /// Nanoseconds the session has been conflating; nil when it is not.
    var conflatingFor: UInt64?

    struct Subscription: Equatable {
        var symbol: String
        var variant: ProtocolVariant
        /// The subscription's `max_rate`; nil when uncapped.
        var maxRate: Int?

        init(symbol: String, variant: ProtocolVariant, maxRate: Int? = nil) {
            self.symbol = symbol
            self.variant = variant
            self.maxRate = maxRate
        }
    }

    /// `format`: the handover format both sides read (`HandoverFormat`). Before 3, a delta
    /// subscription travels as its whole-state variant (the client then gets whole states,
    /// which it reads as well) and a cap is lost.
    func encode(into writer: inout HandoverWriter, format: Int) {
        let c = connection
        writer.optional(c.subprotocol) { $0.string($1) }
        writer.optional(c.deflate) { writer, deflate in
            writer.bool(deflate.serverNoContextTakeover)
            writer.bool(deflate.clientNoContextTakeover)
            writer.u8(UInt8(deflate.serverMaxWindowBits))
            writer.u8(UInt8(deflate.clientMaxWindowBits))
        }
        writer.u64(c.silentFor)
        writer.u64(c.sincePing)
        writer.u64(c.rateDebt)
        writer.u32(UInt32(bitPattern: c.refusedInARow))
        writer.optional(c.reader.fragmentOpcode) { $0.u8($1.rawValue) }
        writer.bool(c.reader.compressed)
        writer.data(c.reader.fragments)
        writer.data(c.input)
        writer.data(c.output)
        writer.string(version.rawValue)
        writer.u32(UInt32(subscriptions.count))
        for subscription in subscriptions {
            writer.string(subscription.symbol)
            if format >= 3 {
                writer.u16(UInt16(subscription.variant.index))
                writer.u16(UInt16(subscription.maxRate ?? 0))
            } else {
                writer.u16(UInt16(subscription.variant.whole.index))
            }
        }
        writer.optional(claims) { writer, claims in
            writer.optional(claims.expiresAt) { $0.i64($1) }
            writer.optional(claims.symbols?.entries) { writer, entries in
                writer.u32(UInt32(entries.count))
                for entry in entries { writer.string(entry) }
            }
            writer.optional(claims.subject) { $0.string($1) }
        }
        writer.optional(conflatingFor) { $0.u64($1) }
    }

    init(connection: ConnectionHandover, version: ProtocolVersion, subscriptions: [Subscription], claims: AccessClaims?,
         conflatingFor: UInt64?) {
        self.connection = connection
        self.version = version
        self.subscriptions = subscriptions
        self.claims = claims
        self.conflatingFor = conflatingFor
    }

    init(from reader: inout HandoverReader, format: Int) throws {
        let subprotocol = try reader.optional("subprotocol") { try $0.string("subprotocol") }
        let deflate = try reader.optional("deflate") { reader in
            DeflateParameters(serverNoContextTakeover: try reader.bool("server_no_context_takeover"),
                              clientNoContextTakeover: try reader.bool("client_no_context_takeover"),
                              serverMaxWindowBits: Int(try reader.u8("server_max_window_bits")),
                              clientMaxWindowBits: Int(try reader.u8("client_max_window_bits")))
        }
        let silentFor = try reader.u64("silent for"), sincePing = try reader.u64("since ping")
        let rateDebt = try reader.u64("rate debt")
        let refused = Int32(bitPattern: try reader.u32("refused in a row"))
        let opcode = try reader.optional("fragment opcode") { Opcode(rawValue: try $0.u8("fragment opcode")) }
        let compressed = try reader.bool("fragment compressed")
        let fragments = try reader.data("fragments")
        let input = try reader.data("input")
        let output = try reader.data("output")
        connection = ConnectionHandover(subprotocol: subprotocol, deflate: deflate, silentFor: silentFor, sincePing: sincePing,
                                        rateDebt: rateDebt, refusedInARow: refused,
                                        reader: MessageReader.Progress(fragmentOpcode: opcode, compressed: compressed, fragments: fragments),
                                        input: input, output: output)
        let versionName = try reader.string("protocol")
        guard let version = ProtocolVersion(rawValue: versionName) else { throw HandoverFormatError("protocol \(versionName)") }
        self.version = version
        let count = Int(try reader.u32("subscription count"))
        subscriptions = []
        for _ in 0..<count {
            let symbol = try reader.string("subscribed symbol")
            let index = Int(try reader.u16("variant"))
            let variant = ProtocolVariant(index: index)
            guard index < ProtocolVariant.count, variant.version == version, !(variant.isDelta && format < 3),
                  !(variant.isDelta && version == .v1) else {
                throw HandoverFormatError("variant \(index) for \(version.rawValue)")
            }
            var maxRate: Int?
            if format >= 3 {
                let rate = Int(try reader.u16("max rate"))
                guard rate == 0 || SubscribeOptions.maxRates.contains(rate) else { throw HandoverFormatError("max rate \(rate)") }
                maxRate = rate == 0 ? nil : rate
            }
            subscriptions.append(Subscription(symbol: symbol, variant: variant, maxRate: maxRate))
        }
        claims = try reader.optional("claims") { reader in
            let expiresAt = try reader.optional("exp") { try $0.i64("exp") }
            let symbols = try reader.optional("symbols claim") { reader -> SymbolPermissions in
                let count = Int(try reader.u32("symbols claim count"))
                var entries: [String] = []
                for _ in 0..<count { entries.append(try reader.string("symbols claim entry")) }
                guard let permissions = SymbolPermissions(entries) else { throw HandoverFormatError("symbols claim") }
                return permissions
            }
            let subject = try reader.optional("sub") { try $0.string("sub") }
            return AccessClaims(expiresAt: expiresAt, symbols: symbols, subject: subject)
        }
        conflatingFor = try reader.optional("conflating for") { try $0.u64("conflating for") }
    }

    /// A batch of sessions, in the order of the descriptors that travel with it.
    static func encodeBatch(_ sessions: [SessionHandover], format: Int = HandoverFormat.version) -> [UInt8] {
        var writer = HandoverWriter()
        writer.u32(UInt32(sessions.count))
        for session in sessions { session.encode(into: &writer, format: format) }
        return writer.bytes
    }

    static func decodeBatch(_ bytes: [UInt8], format: Int = HandoverFormat.version) throws -> [SessionHandover] {
        var reader = HandoverReader(bytes)
        let count = Int(try reader.u32("batch count"))
        guard count <= Int(TS_MAX_FDS_PER_MESSAGE) else { throw HandoverFormatError("batch of \(count)") }
        var sessions: [SessionHandover] = []
        for _ in 0..<count { sessions.append(try SessionHandover(from: &reader, format: format)) }
        try reader.finish()
        return sessions
    }
}
