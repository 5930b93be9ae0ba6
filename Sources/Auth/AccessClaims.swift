/// What a verified token grants: until when, and which symbols.
public struct AccessClaims: Sendable, Equatable {
    /// `exp`: Unix seconds after which the token no longer serves (the connection is closed).
    public var expiresAt: Int64?
    /// `symbols`: what may be subscribed to; nil allows every symbol.
    public var symbols: SymbolPermissions?
    /// `sub`, for log lines (never the token itself).
    public var subject: String?

    public init(expiresAt: Int64? = nil, symbols: SymbolPermissions? = nil, subject: String? = nil) {
        self.expiresAt = expiresAt
        self.symbols = symbols
        self.subject = subject
    }

    /// Whether `symbol` may be subscribed to.
    public func allows(_ symbol: String) -> Bool { symbols?.allows(symbol) ?? true }
}
