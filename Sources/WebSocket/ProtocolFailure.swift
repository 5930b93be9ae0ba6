/// Why a peer's bytes ended the connection: the close code to send and a short reason that
/// goes into the Close frame and the logs.
public struct ProtocolFailure: Error, Equatable, Sendable, CustomStringConvertible {
    public let code: CloseCode
    public let reason: StaticString

    public init(_ code: CloseCode, _ reason: StaticString) {
        self.code = code
        self.reason = reason
    }

    public static func == (lhs: ProtocolFailure, rhs: ProtocolFailure) -> Bool {
        lhs.code == rhs.code && lhs.reason.description == rhs.reason.description
    }

    public var description: String { "\(code.rawValue) \(reason)" }
}
