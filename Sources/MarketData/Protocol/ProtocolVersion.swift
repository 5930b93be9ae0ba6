/// The protocol a connection negotiated; fixed for its lifetime.
public enum ProtocolVersion: String, Sendable, CaseIterable {
    /// Legacy and frozen: `{"symbol","price"}` per update.
    case v1
    /// Richer: last, bid, ask, book depth, seq and feed timestamp per update.
    case v2

    /// Subprotocol tokens the server accepts. The client's first offer in this list wins; an
    /// offer of nothing we support gets v1 with no Sec-WebSocket-Protocol header.
    public static let supportedTokens = ["v2", "v1"]
}

/// Which encoding of an update a subscriber receives: v1, or v2 at a depth of 1...50 as whole
/// states or as deltas, each plain or compressed (permessage-deflate). Each variant with
/// subscribers is encoded once per update, and each compressed one deflated once.
public struct ProtocolVariant: Hashable, Sendable {
    /// 2 × (0 for v1, the depth for v2), plus 1 when compressed, plus `deltaOffset` for deltas:
    /// a compressed variant sorts right after its plain one, so fan-out encodes the JSON once
    /// for both. Whole-state indexes are those of builds before deltas (handover format 2).
    public let index: Int

    public init(index: Int) {
        self.index = index
    }

    public static let v1 = ProtocolVariant(index: 0)
    public static func v2(depth: Int, delta: Bool = false) -> ProtocolVariant {
        precondition((1...BookState.maxLevels).contains(depth))
        return ProtocolVariant(index: (depth << 1) + (delta ? deltaOffset : 0))
    }

    /// Where delta variants start: after every whole-state one.
    static let deltaOffset = (BookState.maxLevels + 1) * 2
    public static let count = deltaOffset * 2

    public var version: ProtocolVersion { index < 2 ? .v1 : .v2 }
    public var depth: Int { (index % Self.deltaOffset) >> 1 }
    /// Sent as permessage-deflate frames (to clients that negotiated it).
    public var isCompressed: Bool { index & 1 == 1 }
    /// Sent as deltas against the previous update (v2 only): see `DeltaEncoder`.
    public var isDelta: Bool { index >= Self.deltaOffset }
    /// This variant's compressed form.
    public var compressed: ProtocolVariant { ProtocolVariant(index: index | 1) }
    /// This variant's plain form: the JSON both forms share.
    public var plain: ProtocolVariant { ProtocolVariant(index: index & ~1) }
    /// The same variant sending whole states (what a client out of step with deltas gets).
    public var whole: ProtocolVariant { isDelta ? ProtocolVariant(index: index - Self.deltaOffset) : self }
}
