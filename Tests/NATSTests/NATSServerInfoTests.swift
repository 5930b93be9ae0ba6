import NATS
import Testing

@Suite struct NATSServerInfoTests {
    func info(_ json: String) -> NATSServerInfo { Array(json.utf8).withUnsafeBytes { NATSServerInfo(json: $0) } }

    /// Read with the shared JSON reader: nested values and fields it does not know are skipped,
    /// whatever their order, and a key that only looks like one inside a string is not taken.
    @Test func theFieldsItUsesAreReadWhereverTheyStand() {
        let parsed = info(#"""
            {"server_id":"N1","connect_urls":["10.0.0.2:4222","10.0.0.3:4222"],"cluster":{"name":"c","max_payload":5},
             "server_name":"nats-1","version":"2.9.25","note":"\"max_payload\":7","max_payload":8388608,"headers":true,
             "jetstream":true,"ldm":true}
            """#)
        #expect(parsed.serverName == "nats-1" && parsed.version == "2.9.25")
        #expect(parsed.maxPayload == 8_388_608, "the top-level one, not the nested or quoted one")
        #expect(parsed.headers && parsed.jetStream && parsed.lameDuck)
    }

    @Test func missingOrOddFieldsKeepTheirDefaults() {
        let parsed = info(#"{"server_name":"x","max_payload":-5,"headers":"yes","jetstream":false}"#)
        #expect(parsed.serverName == "x" && parsed.maxPayload == 1 << 20 && !parsed.headers && !parsed.jetStream && !parsed.lameDuck)
        let broken = info(#"{"server_name":"y","version":"#)
        #expect(broken.serverName == "y" && broken.version == "", "what was read before the break stays")
        #expect(info("not json") == NATSServerInfo())
    }
}
