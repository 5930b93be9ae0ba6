/// Which symbols a token lets its holder read: the `symbols` claim, a list of exact symbols and
/// prefixes written `PREFIX*` ("EQ.*" covers EQ.AAPL and EQ.MSFT; "*" covers everything).
public struct SymbolPermissions: Sendable, Equatable {
    private let exact: Set<String>
    private let prefixes: [String]

    /// Nil when an entry is neither a symbol nor a prefix pattern, so a token that does not say
    /// clearly what it allows is refused rather than read generously.
    public init?(_ entries: [String]) {
        var exact: Set<String> = []
        var prefixes: [String] = []
        for entry in entries {
            if entry.hasSuffix("*") {
                let prefix = String(entry.dropLast())
                guard !prefix.contains("*"), prefix.utf8.count < 16,
                      prefix.utf8.allSatisfy(Self.isSymbolByte) else { return nil }
                prefixes.append(prefix)
            } else {
                guard (1...16).contains(entry.utf8.count), entry.utf8.allSatisfy(Self.isSymbolByte) else { return nil }
                exact.insert(entry)
            }
        }
        self.exact = exact
        self.prefixes = prefixes
    }

    private static func isSymbolByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"): return true
        default: return false
        }
    }

    /// The claim's entries again (exact symbols sorted, then the prefixes as `PREFIX*`):
    /// `SymbolPermissions(entries)` gives back the same permissions.
    public var entries: [String] { exact.sorted() + prefixes.map { $0 + "*" } }

    public func allows(_ symbol: String) -> Bool {
        exact.contains(symbol) || prefixes.contains { symbol.hasPrefix($0) }
    }
}
