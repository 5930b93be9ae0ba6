/// A token key that cannot serve, found at start-up (the gateway exits 2 naming the flag).
public struct TokenKeyError: Error, Equatable, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
