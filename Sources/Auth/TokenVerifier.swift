import ByteBuffers
import COpenSSL

/// Checks JSON Web Tokens (RFC 7519) presented at the WebSocket upgrade: the signature with the
/// configured key, then `exp` and `nbf`, then reads what the gateway needs (`symbols`, `sub`).
///
/// Algorithms: HS256 with a shared secret, RS256 with an RSA public key, ES256 with a P-256
/// public key. A token is checked only with the key of its own algorithm family, so an RSA
/// public key can never be used as an HMAC secret (the classic algorithm confusion), and
/// `alg: none` is never accepted. Signatures go through OpenSSL, which the gateway links for
/// TLS already; docs/benchmarks-history.md records why this is not vapor/jwt-kit.
///
/// Immutable after init (OpenSSL 3 allows concurrent verifications with one EVP_PKEY), hence
/// `@unchecked Sendable`.
public final class TokenVerifier: @unchecked Sendable {
    private let secret: [UInt8]?
    /// EVP_PKEY of the public key, and the one algorithm it serves.
    private let publicKey: OpaquePointer?
    private let publicAlgorithm: String?
    /// SHA-256, fetched from OpenSSL's provider once: passing `EVP_sha256()` makes OpenSSL 3
    /// fetch it again on every call, which measured as most of a verification's cost.
    private let sha256: OpaquePointer
    /// Tokens longer than this are refused before any decoding (a request head is 8 KiB).
    public static let maxTokenBytes = 8192

    /// `secret`: the HS256 key, at least 32 bytes (RFC 7518 §3.2). `publicKeyPath`: a PEM
    /// public key (or a certificate carrying one): RSA of at least 2048 bits for RS256, or
    /// P-256 for ES256. At least one of the two.
    public init(secret: [UInt8]?, publicKeyPath: String?) throws(TokenKeyError) {
        guard secret != nil || publicKeyPath != nil else { throw TokenKeyError("no key: give --jwt-secret or --jwt-public-key") }
        if let secret, secret.count < 32 {
            throw TokenKeyError("--jwt-secret must be at least 32 bytes for HS256 (RFC 7518 §3.2), got \(secret.count)")
        }
        self.secret = secret
        guard let digest = EVP_MD_fetch(nil, "SHA256", nil) else { throw TokenKeyError("OpenSSL has no SHA-256") }
        sha256 = digest
        guard let publicKeyPath else {
            publicKey = nil
            publicAlgorithm = nil
            return
        }
        let key = try Self.readPublicKey(publicKeyPath)
        switch EVP_PKEY_get_base_id(key) {
        case EVP_PKEY_RSA:
            guard EVP_PKEY_get_bits(key) >= 2048 else {
                EVP_PKEY_free(key)
                throw TokenKeyError("--jwt-public-key \(publicKeyPath): an RSA key needs at least 2048 bits")
            }
            publicAlgorithm = "RS256"
        case EVP_PKEY_EC:
            var name = [CChar](repeating: 0, count: 64)
            var length = 0
            guard EVP_PKEY_get_group_name(key, &name, name.count, &length) == 1,
                  String(decoding: name.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self) == "prime256v1" else {
                EVP_PKEY_free(key)
                throw TokenKeyError("--jwt-public-key \(publicKeyPath): an EC key must be on P-256 (ES256)")
            }
            publicAlgorithm = "ES256"
        default:
            EVP_PKEY_free(key)
            throw TokenKeyError("--jwt-public-key \(publicKeyPath): not an RSA or P-256 key")
        }
        publicKey = key
    }

    deinit {
        if let publicKey { EVP_PKEY_free(publicKey) }
        EVP_MD_free(sha256)
    }

    /// The algorithms tokens may use here, for the start-up log.
    public var algorithms: [String] { (secret == nil ? [] : ["HS256"]) + (publicAlgorithm.map { [$0] } ?? []) }

    private static func readPublicKey(_ path: String) throws(TokenKeyError) -> OpaquePointer {
        guard let bio = BIO_new_file(path, "r") else {
            throw TokenKeyError("--jwt-public-key \(path): cannot be read")
        }
        defer { BIO_free(bio) }
        if let key = PEM_read_bio_PUBKEY(bio, nil, nil, nil) { return key }
        ERR_clear_error()
        _ = BIO_ctrl(bio, BIO_CTRL_RESET, 0, nil)
        if let certificate = PEM_read_bio_X509(bio, nil, nil, nil) {
            defer { X509_free(certificate) }
            if let key = X509_get_pubkey(certificate) { return key }
        }
        ERR_clear_error()
        throw TokenKeyError("--jwt-public-key \(path): no PEM public key (BEGIN PUBLIC KEY) or certificate in it")
    }

    /// Verifies `token` at `now` (Unix seconds).
    public func verify(_ token: String, now: Int64) -> Result<AccessClaims, TokenRejection> {
        guard token.utf8.count <= Self.maxTokenBytes else { return .failure(.malformed("longer than \(Self.maxTokenBytes) bytes")) }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty else {
            return .failure(.malformed("expected header.payload.signature"))
        }
        guard let header = Base64.decodeURLSafe(parts[0]), let payload = Base64.decodeURLSafe(parts[1]),
              let signature = Base64.decodeURLSafe(parts[2]) else {
            return .failure(.malformed("a segment is not base64url"))
        }
        let algorithm: String
        switch Self.readHeader(header) {
        case .failure(let rejection): return .failure(rejection)
        case .success(let alg): algorithm = alg
        }
        let signingInput = Array(token.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count))
        switch algorithm {
        case "HS256" where secret != nil:
            guard hmacMatches(signature, signingInput) else { return .failure(.badSignature) }
        case "RS256" where publicAlgorithm == "RS256", "ES256" where publicAlgorithm == "ES256":
            guard publicKeyVerifies(signature, signingInput, ecdsa: algorithm == "ES256") else { return .failure(.badSignature) }
        default:
            return .failure(.unsupportedAlgorithm(String(algorithm.prefix(20))))
        }
        let claims: (AccessClaims, notBefore: Int64?)
        switch Self.readClaims(payload) {
        case .failure(let rejection): return .failure(rejection)
        case .success(let read): claims = read
        }
        if let expiresAt = claims.0.expiresAt, now >= expiresAt { return .failure(.expired) }
        if let notBefore = claims.notBefore, now < notBefore { return .failure(.notYetValid) }
        return .success(claims.0)
    }

    // MARK: Signatures

    private func hmacMatches(_ signature: [UInt8], _ input: [UInt8]) -> Bool {
        guard let secret, signature.count == 32 else { return false }
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        let computed = secret.withUnsafeBytes { key in
            input.withUnsafeBytes { data in
                HMAC(sha256, key.baseAddress, Int32(key.count), data.bindMemory(to: UInt8.self).baseAddress, data.count,
                     &digest, &length)
            }
        }
        guard computed != nil, length == 32 else { return false }
        return CRYPTO_memcmp(digest, signature, 32) == 0
    }

    private func publicKeyVerifies(_ signature: [UInt8], _ input: [UInt8], ecdsa: Bool) -> Bool {
        guard let publicKey, let context = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestVerifyInit(context, nil, sha256, nil, publicKey) == 1 else { return false }
        let der: [UInt8]
        if ecdsa {
            // JWS carries ECDSA as r || s (32 bytes each, RFC 7518 §3.4); OpenSSL wants DER.
            guard signature.count == 64, let encoded = Self.derSignature(r: signature[0..<32], s: signature[32..<64]) else { return false }
            der = encoded
        } else {
            der = signature
        }
        let verified = EVP_DigestVerify(context, der, der.count, input, input.count)
        ERR_clear_error()
        return verified == 1
    }

    private static func derSignature(r: ArraySlice<UInt8>, s: ArraySlice<UInt8>) -> [UInt8]? {
        guard let signature = ECDSA_SIG_new() else { return nil }
        defer { ECDSA_SIG_free(signature) }
        let rNumber = r.withUnsafeBufferPointer { BN_bin2bn($0.baseAddress, Int32($0.count), nil) }
        let sNumber = s.withUnsafeBufferPointer { BN_bin2bn($0.baseAddress, Int32($0.count), nil) }
        guard let rNumber, let sNumber, ECDSA_SIG_set0(signature, rNumber, sNumber) == 1 else {
            BN_free(rNumber)
            BN_free(sNumber)
            return nil
        }
        let length = i2d_ECDSA_SIG(signature, nil)
        guard length > 0 else { return nil }
        var der = [UInt8](repeating: 0, count: Int(length))
        let written = der.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var cursor = buffer.baseAddress
            return i2d_ECDSA_SIG(signature, &cursor)
        }
        return written == length ? der : nil
    }

    // MARK: JSON

    private static func readHeader(_ bytes: [UInt8]) -> Result<String, TokenRejection> {
        var algorithm: String?
        do {
            try bytes.withUnsafeBytes { raw in
                var reader = JSONReader(raw)
                try reader.readObject { reader, key in
                    if bytesEqual(key, "alg") {
                        algorithm = String(decoding: try reader.readStringBytes(), as: UTF8.self)
                    } else if bytesEqual(key, "crit") {
                        // RFC 7515 §4.1.11: extensions we do not understand must not be ignored.
                        throw JSONReader.Failure("critical header extensions are not supported")
                    } else {
                        try reader.skipValue()
                    }
                }
                try reader.finish()
            }
        } catch let failure as JSONReader.Failure {
            return .failure(.malformed("header: \(failure.message)"))
        } catch {
            return .failure(.malformed("header"))
        }
        guard let algorithm else { return .failure(.malformed("header has no alg")) }
        return .success(algorithm)
    }

    private static func readClaims(_ bytes: [UInt8]) -> Result<(AccessClaims, notBefore: Int64?), TokenRejection> {
        var claims = AccessClaims()
        var notBefore: Int64?
        var problem: TokenRejection?
        do {
            try bytes.withUnsafeBytes { raw in
                var reader = JSONReader(raw)
                let seconds: ClosedRange<Int64> = 0...(1 << 40)
                try reader.readObject { reader, key in
                    if bytesEqual(key, "exp") {
                        claims.expiresAt = try reader.readInteger(in: seconds)
                    } else if bytesEqual(key, "nbf") {
                        notBefore = try reader.readInteger(in: seconds)
                    } else if bytesEqual(key, "sub") {
                        let start = reader.index
                        if let subject = try? reader.readStringBytes() {
                            claims.subject = String(decoding: subject.prefix(128), as: UTF8.self)
                        } else {
                            reader.rewind(to: start)
                            try reader.skipValue()
                        }
                    } else if bytesEqual(key, "symbols") {
                        var entries: [String] = []
                        try reader.readArray { reader, index in
                            guard index < 10_000 else { throw JSONReader.Failure("symbols: more than 10000 entries") }
                            entries.append(String(decoding: try reader.readStringBytes(), as: UTF8.self))
                        }
                        guard let permissions = SymbolPermissions(entries) else {
                            problem = .invalidClaim("symbols must list symbols or PREFIX* patterns")
                            return
                        }
                        claims.symbols = permissions
                    } else {
                        try reader.skipValue()
                    }
                }
                try reader.finish()
            }
        } catch let failure as JSONReader.Failure {
            return .failure(.invalidClaim(failure.message))
        } catch {
            return .failure(.malformed("payload"))
        }
        if let problem { return .failure(problem) }
        return .success((claims, notBefore))
    }
}
