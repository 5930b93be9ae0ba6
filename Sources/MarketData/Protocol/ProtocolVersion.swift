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

/// Which encoding of an update a subscriber receives: v1, or v2 at a depth of 1...50, each
/// plain or compressed (permessage-deflate). Each variant with subscribers is encoded once per
/// update, and each compressed one deflated once.
public struct ProtocolVariant: Hashable, Sendable {
    /// 2 × (0 for v1, the depth for v2), plus 1 when compressed: a compressed variant sorts
    /// right after its plain one, so fan-out encodes the JSON once for both.
    public let index: Int

    public init(index: Int) {
        self.index = index
    }

    public static let v1 = ProtocolVariant(index: 0)
    public static func v2(depth: Int) -> ProtocolVariant {
        precondition((1...BookState.maxLevels).contains(depth))
        return ProtocolVariant(index: depth << 1)
    }

    public static let count = (BookState.maxLevels + 1) * 2

    public var version: ProtocolVersion { index < 2 ? .v1 : .v2 }
    public var depth: Int { index >> 1 }
    /// Sent as permessage-deflate frames (to clients that negotiated it).
    public var isCompressed: Bool { index & 1 == 1 }
    /// This variant's compressed form.
    public var compressed: ProtocolVariant { ProtocolVariant(index: index | 1) }
    /// This variant's plain form: the JSON both forms share.
    public var plain: ProtocolVariant { ProtocolVariant(index: index & ~1) }
}
