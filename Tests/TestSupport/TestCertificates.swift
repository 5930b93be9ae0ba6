import Foundation

/// The certificates of `scripts/make-test-certificates.sh`, made for one test in a fresh
/// temporary folder: a CA, a server certificate it signed for localhost / 127.0.0.1, and
/// deliberately bad variants.
public struct TestCertificates {
    public let directory: String
    public var caCertificate: String { directory + "/ca.pem" }
    public var certificate: String { directory + "/server.pem" }
    public var key: String { directory + "/server.key" }
    /// A key of the right shape that does not belong to `certificate`.
    public var otherKey: String { directory + "/other.key" }
    /// A certificate valid only in January 2020, and its key.
    public var expiredCertificate: String { directory + "/expired.pem" }
    public var expiredKey: String { directory + "/expired.key" }
    /// `key`, encrypted with the password in `passwordFile`.
    public var encryptedKey: String { directory + "/encrypted.key" }
    public var passwordFile: String { directory + "/password.txt" }
    public var wrongPasswordFile: String { directory + "/wrong-password.txt" }

    public init() throws {
        directory = NSTemporaryDirectory() + "tickstream-tls-\(UUID().uuidString)"
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../scripts/make-test-certificates.sh").standardized.path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script, directory]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw NSError(domain: "make-test-certificates", code: Int(process.terminationStatus))
        }
    }

    public func remove() {
        try? FileManager.default.removeItem(atPath: directory)
    }
}
