import Testing
import TestSupport
@testable import TLS

@Suite struct TLSServerContextTests {
    let certificates: TestCertificates

    init() throws { certificates = try TestCertificates() }

    private func refusal(cert: String, key: String, password: String? = nil, now: Int64? = nil) -> String? {
        do {
            if let now {
                _ = try TLSServerContext(certificatePath: cert, keyPath: key, keyPassword: password.map { Array($0.utf8) }, now: now)
            } else {
                _ = try TLSServerContext(certificatePath: cert, keyPath: key, keyPassword: password.map { Array($0.utf8) })
            }
            return nil
        } catch {
            return error.description
        }
    }

    @Test func aGoodPairLoadsWithItsValidity() throws {
        let context = try TLSServerContext(certificatePath: certificates.certificate, keyPath: certificates.key)
        #expect(context.notAfter > context.notBefore)
        #expect(context.subject.contains("CN=localhost"))
        certificates.remove()
    }

    @Test func everyBadFileIsRefusedNamingIt() {
        defer { certificates.remove() }
        let missing = certificates.directory + "/nope.pem"
        #expect(refusal(cert: missing, key: certificates.key) == "--tls-cert \(missing): No such file or directory")
        #expect(refusal(cert: certificates.certificate, key: missing) == "--tls-key \(missing): No such file or directory")
        #expect(refusal(cert: certificates.passwordFile, key: certificates.key)?.hasPrefix("--tls-cert \(certificates.passwordFile) is not a PEM certificate chain") == true)
        #expect(refusal(cert: certificates.certificate, key: certificates.passwordFile)?.hasPrefix("--tls-key \(certificates.passwordFile) is not a PEM private key") == true)
        #expect(refusal(cert: certificates.certificate, key: certificates.otherKey)
                == "--tls-key \(certificates.otherKey) does not match the certificate in --tls-cert \(certificates.certificate)")
        #expect(refusal(cert: certificates.expiredCertificate, key: certificates.expiredKey)
                == "--tls-cert \(certificates.expiredCertificate) expired on 2020-02-01 00:00:00 UTC (/CN=localhost)")
        #expect(refusal(cert: certificates.certificate, key: certificates.key, now: 0)?.contains("is not valid before") == true)
    }

    @Test func encryptedKeysNeedTheirPassword() {
        defer { certificates.remove() }
        #expect(refusal(cert: certificates.certificate, key: certificates.encryptedKey)
                == "--tls-key \(certificates.encryptedKey) is encrypted: give its password with --tls-key-password-file")
        #expect(refusal(cert: certificates.certificate, key: certificates.encryptedKey, password: "wrong")?
                    .hasPrefix("--tls-key \(certificates.encryptedKey): wrong password in --tls-key-password-file") == true)
        #expect(refusal(cert: certificates.certificate, key: certificates.encryptedKey, password: "correct horse") == nil)
    }
}

@Suite struct TLSClientContextTests {
    @Test func aBadCAFileIsRefusedNamingIt() throws {
        let certificates = try TestCertificates()
        defer { certificates.remove() }
        #expect(throws: TLSConfigurationError.self) { try TLSClientContext(caPath: certificates.directory + "/nope.pem") }
        do {
            _ = try TLSClientContext(caPath: certificates.passwordFile)
            Issue.record("a password file was accepted as a CA file")
        } catch {
            #expect(error.description.hasPrefix("--ca \(certificates.passwordFile) is not a PEM certificate file"))
        }
        _ = try TLSClientContext(caPath: certificates.caCertificate)
    }
}
