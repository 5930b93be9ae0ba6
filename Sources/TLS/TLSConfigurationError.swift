/// A certificate or key that cannot be used, with the file and the reason, for the operator.
/// At start the gateway exits 2 with it; on a reload it is logged and the old one stays.
public struct TLSConfigurationError: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
