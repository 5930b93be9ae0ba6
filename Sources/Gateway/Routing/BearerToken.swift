import HTTP

/// `Authorization: Bearer <token>` as RFC 9110 §11.1 and RFC 6750 read it: the scheme name in
/// any case, one or more spaces, then the token, compared exactly and in constant time.
struct BearerToken {
    let token: String

    /// Whether the request presents this token.
    func isPresented(in head: HTTPRequestHead) -> Bool {
        guard let value = head.header("authorization") else { return false }
        let bytes = Array(value.utf8)
        let scheme = Array("bearer".utf8)
        guard bytes.count > scheme.count, bytes[scheme.count] == UInt8(ascii: " "),
              zip(bytes, scheme).allSatisfy({ $0 | 0x20 == $1 }) else { return false }
        let credentials = bytes.dropFirst(scheme.count).drop(while: { $0 == UInt8(ascii: " ") })
        return Self.constantTimeEquals(Array(credentials), Array(token.utf8))
    }

    /// Equal bytes, in a time that depends on the lengths only.
    static func constantTimeEquals(_ x: [UInt8], _ y: [UInt8]) -> Bool {
        var difference = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<min(x.count, y.count) { difference |= x[i] ^ y[i] }
        return difference == 0
    }
}
