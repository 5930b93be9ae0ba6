import EventLoop
import NATS
import TestSupport
import Testing

/// NKEY seeds and `.creds` files, checked against the reference implementation (the Python
/// `nkeys` package gave these vectors), and the signature CONNECT carries.
@Suite(.serialized) struct NATSCredentialsTests {
    static let seed = "SUAMK2FG4MI6UE3ACF3FK3OIQBCEIEZV7NSWFFEW63UXMRLFM2XLAXK4GY"
    static let publicKey = "UAT6BWCSCWLUKJT6K6MBJJOEOTXZ5AJDOYKNEVRFC7VNO6OA43N4TRNO"
    /// base64url of the Ed25519 signature of "nonce-123" by `seed`.
    static let signature = "bROdvkafJQJq9qmUs_RDDY9i6BuTPvTX9JvbtWQ8Ohy7CxdPsE4mJ-zam94zACDxiA41CW8p-Z-CMSnAYF42Dg"

    @Test func aSeedFileGivesThePublicKeyAndSignsTheNonce() throws {
        let credentials = try NATSCredentials.parse("# the gateway's key\n\(Self.seed)\n").get()
        #expect(credentials.publicKey == Self.publicKey && credentials.jwt == nil)
        #expect(!"\(credentials)".contains(Self.seed), "the seed never shows in a description")
        let loop = try EventLoop()
        let server = try FakeNATSServer()
        let client = NATSClient(loop: loop, settings: NATSClient.Settings(
            servers: [server.url], connect: NATSConnectOptions(name: "test", credentials: credentials)))
        client.start()
        #expect(run(loop, until: { server.poll(); return server.accepted == 1 }))
        server.send("INFO {\"server_name\":\"a\",\"nonce\":\"nonce-123\"}\r\n")
        #expect(run(loop, until: { server.poll(); return server.received.contains("PING\r\n") }))
        #expect(server.received.contains("\"nkey\":\"\(Self.publicKey)\",\"sig\":\"\(Self.signature)\""))
        client.stop()
    }

    @Test func aCredsFileGivesTheJWTAndTheSeed() throws {
        let text = """
        -----BEGIN NATS USER JWT-----
        eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJVIn0.c2ln
        ------END NATS USER JWT------

        ************************* IMPORTANT *************************
        NKEY Seed printed below can be used to sign and prove identity.

        -----BEGIN USER NKEY SEED-----
        \(Self.seed)
        ------END USER NKEY SEED------
        """
        let credentials = try NATSCredentials.parse(text).get()
        #expect(credentials.jwt == "eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJVIn0.c2ln")
        #expect(credentials.publicKey == Self.publicKey)
    }

    @Test func badFilesAreRefusedWithAReason() {
        func reason(_ text: String) -> String? {
            if case .failure(let error) = NATSCredentials.parse(text) { return error.description }
            return nil
        }
        #expect(reason("") == "holds no NKEY seed")
        #expect(reason("-----BEGIN NATS USER JWT-----\na.b.c\n------END NATS USER JWT------\n") == "holds a user JWT but no NKEY seed")
        // One letter changed: the checksum fails.
        #expect(reason("SUAMK2FG4MI6UE3ACF3FK3OIRBCEIEZV7NSWFFEW63UXMRLFM2XLAXK4GY") == "the NKEY seed is not a valid user seed (SU…)")
        // An account seed is not a user's.
        #expect(reason("SAAAAAICAMCAKBQHBAEQUCYMBUHA6EARCIJRIFIWC4MBSGQ3DQOR4HYMHI")?.hasPrefix("the NKEY seed") == true)
        #expect(reason("-----BEGIN NATS USER JWT-----\nnot-a-jwt\n------END\n-----BEGIN USER NKEY SEED-----\n\(Self.seed)\n") == "the user JWT is not a JWT")
    }
}
