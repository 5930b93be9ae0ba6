import HTTP

/// `Authorization: Bearer <token>` as RFC 9110 §11.1 and RFC 6750 read it: the scheme name in
/// any case, one or more spaces, then the token, compared exactly and in constant time.
struct BearerToken {
    let token: String

    /// Whether the request presents this token.
    func isPresented(in head: HTTPRequestHead) -> Bool {
        guard let credentials = Self.credentials(in: head) else { return false }
        return Self.constantTimeEquals(credentials, Array(token.utf8))
    }

    /// The token of an `Authorization: Bearer` field, if the request has one.
    static func credentials(in head: HTTPRequestHead) -> [UInt8]? {
        guard let value = head.header("authorization") else { return nil }
        let bytes = Array(value.utf8)
        let scheme = Array("bearer".utf8)
        guard bytes.count > scheme.count, bytes[scheme.count] == UInt8(ascii: " "),
              zip(bytes, scheme).allSatisfy({ $0 | 0x20 == $1 }) else { return nil }
        return Array(bytes.dropFirst(scheme.count).drop(while: { $0 == UInt8(ascii: " ") }))
    }

    /// Equal bytes, in a time that depends on the lengths only.
    static func constantTimeEquals(_ x: [UInt8], _ y: [UInt8]) -> Bool {
        var difference = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<min(x.count, y.count) { difference |= x[i] ^ y[i] }
        return difference == 0
    }
}
