extension StringProtocol {
    /// Without the spaces and tabs at either end (settings, URLs and credentials files).
    public func trimmingBlanks() -> String {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        return String(drop(while: blank).reversed().drop(while: blank).reversed())
    }
}
