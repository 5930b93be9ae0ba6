import ByteBuffers
import Auth
import COpenSSL
import Glibc
import Testing
import WebSocket

/// base64url without padding, for building tokens.
private func segment(_ bytes: [UInt8]) -> String {
    var text = Base64.encode(bytes)
    while text.hasSuffix("=") { text.removeLast() }
    return String(text.map { $0 == "+" ? "-" : $0 == "/" ? "_" : $0 })
}

private func segment(_ text: String) -> String { segment(Array(text.utf8)) }

/// A key pair made for the test, its public half in a PEM file, and a signer.
private final class TestKey {
    let key: OpaquePointer
    let path: String

    init(ec: Bool) throws {
        let context = EVP_PKEY_CTX_new_id(ec ? EVP_PKEY_EC : EVP_PKEY_RSA, nil)!
        defer { EVP_PKEY_CTX_free(context) }
        #expect(EVP_PKEY_keygen_init(context) == 1)
        if ec {
            #expect(EVP_PKEY_CTX_set_ec_paramgen_curve_nid(context, NID_X9_62_prime256v1) == 1)
        } else {
            #expect(EVP_PKEY_CTX_set_rsa_keygen_bits(context, 2048) == 1)
        }
        var generated: OpaquePointer?
        #expect(EVP_PKEY_keygen(context, &generated) == 1)
        key = generated!
        path = "/tmp/tickstream-test-key-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).pem"
        let bio = BIO_new_file(path, "w")!
        #expect(PEM_write_bio_PUBKEY(bio, key) == 1)
        BIO_free(bio)
    }

    deinit {
        EVP_PKEY_free(key)
        unlink(path)
    }

    /// header.payload.signature, signed with SHA-256 (r || s for ECDSA, as JWS has it).
    func token(alg: String, payload: String, ec: Bool) -> String {
        let input = segment(#"{"alg":"\#(alg)","typ":"JWT"}"#) + "." + segment(payload)
        let context = EVP_MD_CTX_new()!
        defer { EVP_MD_CTX_free(context) }
        #expect(EVP_DigestSignInit(context, nil, EVP_sha256(), nil, key) == 1)
        let bytes = Array(input.utf8)
        var length = 0
        #expect(EVP_DigestSign(context, nil, &length, bytes, bytes.count) == 1)
        var signature = [UInt8](repeating: 0, count: length)
        #expect(EVP_DigestSign(context, &signature, &length, bytes, bytes.count) == 1)
        signature = Array(signature.prefix(length))
        if ec {
            var cursor: UnsafePointer<UInt8>? = signature.withUnsafeBufferPointer { $0.baseAddress }
            let parsed = signature.withUnsafeBufferPointer { buffer -> OpaquePointer? in
                cursor = buffer.baseAddress
                return d2i_ECDSA_SIG(nil, &cursor, buffer.count)
            }!
            defer { ECDSA_SIG_free(parsed) }
            var raw = [UInt8](repeating: 0, count: 64)
            raw.withUnsafeMutableBufferPointer { buffer in
                _ = BN_bn2binpad(ECDSA_SIG_get0_r(parsed), buffer.baseAddress, 32)
                _ = BN_bn2binpad(ECDSA_SIG_get0_s(parsed), buffer.baseAddress! + 32, 32)
            }
            signature = raw
        }
        return input + "." + segment(signature)
    }
}

@Suite struct TokenVerifierTests {
    /// RFC 7515 appendix A.1: an HS256 JWS and its key, byte for byte.
    static let rfcToken = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    static let rfcKey = Base64.decodeURLSafe("AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow")!

    @Test func theRFC7515HS256ExampleVerifiesUntilItsExpiry() throws {
        let verifier = try TokenVerifier(secret: Self.rfcKey, publicKeyPath: nil)
        #expect(try verifier.verify(Self.rfcToken, now: 1_300_819_379).get() == AccessClaims(expiresAt: 1_300_819_380))
        #expect(verifier.verify(Self.rfcToken, now: 1_300_819_380) == .failure(.expired))
        // One changed character anywhere in the signature: refused.
        var tampered = Self.rfcToken
        tampered.removeLast()
        tampered.append("Y")
        #expect(verifier.verify(tampered, now: 0) == .failure(.badSignature))
        let other = try TokenVerifier(secret: Array(repeating: 7, count: 32), publicKeyPath: nil)
        #expect(other.verify(Self.rfcToken, now: 0) == .failure(.badSignature))
    }

    @Test func malformedTokensAndAlgNoneAreRefused() throws {
        let verifier = try TokenVerifier(secret: Self.rfcKey, publicKeyPath: nil)
        let body = segment(#"{"sub":"a"}"#)
        var cases: [(String, TokenRejection)] = []
        let malformed = TokenRejection.malformed("")
        cases.append(("", malformed))
        cases.append(("a.b", malformed))
        cases.append(("a.b.c.d", malformed))
        cases.append(("!!.\(body).", malformed))
        cases.append((segment("not json") + ".\(body).", malformed))
        cases.append((segment(#"{"typ":"JWT"}"#) + ".\(body).", malformed))
        cases.append((segment(#"{"alg":"none"}"#) + ".\(body).", .unsupportedAlgorithm("none")))
        cases.append((segment(#"{"alg":"HS512"}"#) + ".\(body).c2ln", .unsupportedAlgorithm("HS512")))
        // An RSA token when no public key is configured: never checked against the secret.
        cases.append((segment(#"{"alg":"RS256"}"#) + ".\(body).c2ln", .unsupportedAlgorithm("RS256")))
        cases.append((segment(#"{"alg":"HS256","crit":["exp"]}"#) + ".\(body).c2ln", malformed))
        cases.append((String(repeating: "a", count: 9000), malformed))
        for (token, expected) in cases {
            let result = verifier.verify(token, now: 0)
            if case .malformed = expected, case .failure(.malformed) = result { continue }
            #expect(result == .failure(expected), "\(token.prefix(60))")
        }
    }

    @Test func claimsGiveExpiryNotBeforeAndSymbols() throws {
        let key = try TestKey(ec: false)
        let verifier = try TokenVerifier(secret: nil, publicKeyPath: key.path)
        #expect(verifier.algorithms == ["RS256"])
        let token = key.token(alg: "RS256", payload: #"{"sub":"desk-7","exp":2000,"nbf":1000,"symbols":["AAPL","EQ.*"]}"#, ec: false)
        let claims = try verifier.verify(token, now: 1500).get()
        #expect(claims.expiresAt == 2000 && claims.subject == "desk-7")
        #expect(claims.allows("AAPL") && claims.allows("EQ.MSFT") && !claims.allows("MSFT") && !claims.allows("EQ"))
        #expect(verifier.verify(token, now: 999) == .failure(.notYetValid))
        #expect(verifier.verify(token, now: 2000) == .failure(.expired))
        // No symbols claim: everything; "*": everything.
        #expect(try verifier.verify(key.token(alg: "RS256", payload: #"{}"#, ec: false), now: 0).get().allows("ANY"))
        #expect(try verifier.verify(key.token(alg: "RS256", payload: #"{"symbols":["*"]}"#, ec: false), now: 0).get().allows("ANY"))
        for bad in [#"{"symbols":"AAPL"}"#, #"{"symbols":["aapl"]}"#, #"{"symbols":["A*B*"]}"#, #"{"exp":"soon"}"#, #"{"exp":-5}"#] {
            let result = verifier.verify(key.token(alg: "RS256", payload: bad, ec: false), now: 0)
            guard case .failure(.invalidClaim) = result else {
                Issue.record("\(bad) gave \(result)")
                continue
            }
        }
    }

    @Test func es256TokensVerifyWithAP256KeyAndOnlyAsES256() throws {
        let key = try TestKey(ec: true)
        let verifier = try TokenVerifier(secret: Array(repeating: 1, count: 32), publicKeyPath: key.path)
        #expect(verifier.algorithms == ["HS256", "ES256"])
        let token = key.token(alg: "ES256", payload: #"{"exp":100}"#, ec: true)
        #expect(try verifier.verify(token, now: 99).get().expiresAt == 100)
        // The same signature claimed as RS256 is not checked with the EC key.
        let parts = token.split(separator: ".")
        let relabelled = segment(#"{"alg":"RS256"}"#) + "." + parts[1] + "." + parts[2]
        #expect(verifier.verify(relabelled, now: 0) == .failure(.unsupportedAlgorithm("RS256")))
        // A flipped bit in r: refused.
        var signature = Base64.decodeURLSafe(parts[2])!
        signature[5] ^= 1
        #expect(verifier.verify(parts[0] + "." + parts[1] + "." + segment(signature), now: 0) == .failure(.badSignature))
    }

    @Test func unusableKeysAreRefusedAtStart() throws {
        #expect(throws: TokenKeyError.self) { try TokenVerifier(secret: Array("short".utf8), publicKeyPath: nil) }
        #expect(throws: TokenKeyError.self) { try TokenVerifier(secret: nil, publicKeyPath: nil) }
        #expect(throws: TokenKeyError.self) { try TokenVerifier(secret: nil, publicKeyPath: "/nonexistent.pem") }
        let path = "/tmp/tickstream-not-a-key-\(getpid()).pem"
        let file = fopen(path, "w")
        fputs("not a key\n", file)
        fclose(file)
        defer { unlink(path) }
        #expect(throws: TokenKeyError.self) { try TokenVerifier(secret: nil, publicKeyPath: path) }
    }
}
