import COpenSSL

/// SHA-1 from OpenSSL's libcrypto. Used only for the handshake's accept key, where RFC 6455
/// fixes the algorithm; it is not a security primitive here.
enum SHA1 {
    static func digest(_ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(SHA_DIGEST_LENGTH))
        bytes.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { output in
                _ = COpenSSL.SHA1(input.baseAddress, input.count, output.baseAddress)
            }
        }
        return out
    }
}
