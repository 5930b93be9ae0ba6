import MarketData

/// Subscriber commands in both protocol versions: anything decodes to a command or to an error
/// reply, and an accepted command names only valid symbols.
public enum CommandTarget {
    public static func run(_ data: UnsafeRawBufferPointer) {
        for version in [ProtocolVersion.v1, .v2] {
            switch CommandDecoder.decode(data, version: version) {
            case .failure(let error):
                precondition(!error.code.isEmpty)
            case .success(.subscribe(let names, let depth, _)):
                precondition(!names.isEmpty && names.allSatisfy(SymbolSyntax.isValid) && (1...50).contains(depth))
            case .success(.unsubscribe(let names)):
                precondition(names.allSatisfy(SymbolSyntax.isValid))
            case .success(.listSymbols):
                break
            }
        }
    }
}
