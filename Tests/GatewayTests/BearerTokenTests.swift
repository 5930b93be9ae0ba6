import HTTP
import Testing
@testable import Gateway

@Suite struct BearerTokenTests {
    private func presented(_ authorization: String?) -> Bool {
        let headers = authorization.map { [(name: "authorization", value: $0)] } ?? []
        return BearerToken(token: "s3cret").isPresented(in: HTTPRequestHead(method: "POST", target: "/admin/drain", minorVersion: 1, headers: headers))
    }

    @Test func theSchemeIsCaseInsensitiveTheTokenExact() {
        #expect(presented("Bearer s3cret"))
        #expect(presented("bearer s3cret"))
        #expect(presented("BEARER   s3cret"))
        #expect(!presented("Bearer S3CRET"))
        #expect(!presented("Bearer s3cret "))
        #expect(!presented("Bearer s3cre"))
        #expect(!presented("Basic s3cret"))
        #expect(!presented("Bearers3cret"))
        #expect(!presented("Bearer"))
        #expect(!presented(nil))
    }
}
