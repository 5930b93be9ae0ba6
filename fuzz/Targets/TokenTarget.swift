import Auth

/// Token verification on arbitrary text: refused with a reason, never a crash; and nothing
/// unsigned passes (the input is not signed with the secret, so acceptance would be a bug).
public enum TokenTarget {
    private static let verifier = try! TokenVerifier(secret: Array("fuzzing-secret-that-is-32-bytes!".utf8), publicKeyPath: nil)

    public static func run(_ data: UnsafeRawBufferPointer) {
        let token = String(decoding: data, as: UTF8.self)
        if case .success = verifier.verify(token, now: 0) {
            preconditionFailure("a token not signed with the secret was accepted: \(token)")
        }
    }
}
