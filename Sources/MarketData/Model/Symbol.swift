/// Symbol syntax and the table that gives each known symbol a small integer id, so the hot
/// path indexes arrays instead of hashing strings.
public enum SymbolSyntax {
    /// `^[A-Z0-9][A-Z0-9._-]{0,15}$`
    public static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard (1...16).contains(bytes.count) else { return false }
        for (index, byte) in bytes.enumerated() {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): continue
            case UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                if index == 0 { return false }
            default: return false
            }
        }
        return true
    }

    public static func isValid(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { isValid(UnsafeRawBufferPointer($0)) }
    }
}

/// A symbol's index in the `SymbolTable`.
public typealias SymbolID = Int32

/// Interns symbol names. Ids are dense (0, 1, 2, ...) and never reused.
public struct SymbolTable {
    private var ids: [String: SymbolID] = [:]
    public private(set) var names: [String] = []

    public init() {}

    public var count: Int { names.count }

    public func id(of name: String) -> SymbolID? { ids[name] }

    /// The id of `name`, registering it if new. The caller has checked the syntax.
    public mutating func intern(_ name: String) -> SymbolID {
        if let id = ids[name] { return id }
        let id = SymbolID(names.count)
        ids[name] = id
        names.append(name)
        return id
    }

    public func name(of id: SymbolID) -> String { names[Int(id)] }
}
