import ByteBuffers
import COpenSSL

/// How this client proves who it is to servers that use NKEY or decentralized (JWT)
/// authentication: a user's Ed25519 seed, and with a `.creds` file also the user's JWT. The
/// server sends a nonce in INFO; CONNECT answers with the signature (and the JWT or the public
/// key). The seed never leaves this value: its description shows the public key only.
public struct NATSCredentials: Sendable, Equatable, CustomStringConvertible {
    /// The user JWT of a `.creds` file; nil for a bare NKEY seed.
    public let jwt: String?
    /// The user's public key (`U…`).
    public let publicKey: String
    private let seed: [UInt8]

    public var description: String { jwt == nil ? "NKEY \(publicKey)" : "user JWT for \(publicKey)" }

    /// A `.creds` file (a user JWT and its seed between `-----BEGIN …-----` lines, as `nsc`
    /// writes it) or a file holding an NKEY seed alone.
    public static func load(path: String) -> Result<NATSCredentials, NATSCredentialsError> {
        switch SmallFile.read(path, maxBytes: 64 * 1024) {
        case .failure(let error): return .failure(NATSCredentialsError(description: error.description))
        case .success(let bytes):
            return parse(String(decoding: bytes, as: UTF8.self)).mapError {
                NATSCredentialsError(description: "\(path): \($0.description)")
            }
        }
    }

    public static func parse(_ text: String) -> Result<NATSCredentials, NATSCredentialsError> {
        func fail(_ why: String) -> Result<NATSCredentials, NATSCredentialsError> { .failure(NATSCredentialsError(description: why)) }
        let lines = text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).map { $0.trimmingBlanks() }
        var jwt: String?
        var seedText: String?
        // In a .creds file each value is the first line after its BEGIN marker.
        for (index, line) in lines.enumerated() where line.hasPrefix("---") && line.contains("BEGIN") {
            guard let value = lines[(index + 1)...].first(where: { !$0.isEmpty }) else { continue }
            if line.contains("JWT") { jwt = value } else if line.contains("SEED") { seedText = value }
        }
        if seedText == nil && jwt == nil {
            // A bare seed file: its one line that is not a comment.
            seedText = lines.first(where: { !$0.isEmpty && !$0.hasPrefix("#") && !$0.hasPrefix("//") })
        }
        guard let seedText else { return fail(jwt == nil ? "holds no NKEY seed" : "holds a user JWT but no NKEY seed") }
        guard let seed = NKey.userSeed(seedText) else { return fail("the NKEY seed is not a valid user seed (SU…)") }
        if let jwt, jwt.split(separator: ".").count != 3 { return fail("the user JWT is not a JWT") }
        guard let publicKey = Ed25519.publicKey(seed: seed) else { return fail("OpenSSL refused the seed") }
        return .success(NATSCredentials(jwt: jwt, publicKey: NKey.userPublicKey(publicKey), seed: seed))
    }

    /// What CONNECT carries to answer `nonce`.
    func sign(nonce: String) -> Result<NATSSignature, NATSCredentialsError> {
        guard let signature = Ed25519.sign(Array(nonce.utf8), seed: seed) else {
            return .failure(NATSCredentialsError(description: "signing the server's nonce failed"))
        }
        return .success(NATSSignature(jwt: jwt, nkey: jwt == nil ? publicKey : nil, signature: Base64.encodeURLSafe(signature)))
    }
}

/// CONNECT's answer to the server's nonce.
public struct NATSSignature: Sendable, Equatable {
    public let jwt: String?
    public let nkey: String?
    /// base64url of the Ed25519 signature of the nonce.
    public let signature: String
}

public struct NATSCredentialsError: Error, Equatable, CustomStringConvertible {
    public let description: String
}

/// Ed25519 through OpenSSL's one-shot API (the key is 32 raw bytes, no hashing step).
enum Ed25519 {
    static func publicKey(seed: [UInt8]) -> [UInt8]? {
        guard let key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nil, seed, seed.count) else { return nil }
        defer { EVP_PKEY_free(key) }
        var out = [UInt8](repeating: 0, count: 32)
        var length = 32
        guard EVP_PKEY_get_raw_public_key(key, &out, &length) == 1, length == 32 else { return nil }
        return out
    }

    static func sign(_ message: [UInt8], seed: [UInt8]) -> [UInt8]? {
        guard let key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nil, seed, seed.count) else { return nil }
        defer { EVP_PKEY_free(key) }
        guard let context = EVP_MD_CTX_new() else { return nil }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestSignInit(context, nil, nil, nil, key) == 1 else { return nil }
        var signature = [UInt8](repeating: 0, count: 64)
        var length = 64
        guard EVP_DigestSign(context, &signature, &length, message, message.count) == 1, length == 64 else { return nil }
        return signature
    }
}
