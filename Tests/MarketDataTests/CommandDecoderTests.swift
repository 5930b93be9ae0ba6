import Testing
@testable import MarketData

func decode(_ text: String, _ version: ProtocolVersion) -> Result<ClientCommand, CommandError> {
    Array(text.utf8).withUnsafeBytes { CommandDecoder.decode($0, version: version) }
}

func errorCode(_ text: String, _ version: ProtocolVersion) -> String? {
    if case .failure(let error) = decode(text, version) { return error.code }
    return nil
}

@Suite struct CommandDecoderTests {
    @Test func v1Commands() {
        #expect(decode(#"{"type":"subscribe","symbol":"AAPL"}"#, .v1) == .success(.subscribe(symbols: ["AAPL"], depth: 1)))
        #expect(decode(#" { "symbol" : "BRK.B" , "type" : "unsubscribe" } "#, .v1) == .success(.unsubscribe(symbols: ["BRK.B"])))
    }

    @Test func v2Commands() {
        #expect(decode(#"{"type":"subscribe","symbols":["AAPL","MSFT","AAPL"],"depth":10}"#, .v2)
            == .success(.subscribe(symbols: ["AAPL", "MSFT"], depth: 10)))
        #expect(decode(#"{"type":"subscribe","symbols":["AAPL"]}"#, .v2) == .success(.subscribe(symbols: ["AAPL"], depth: 1)))
        #expect(decode(#"{"type":"unsubscribe","symbols":["AAPL"],"extra":{"ignored":[1,2]}}"#, .v2) == .success(.unsubscribe(symbols: ["AAPL"])))
    }

    @Test func v2MayAskForTheEpoch() {
        #expect(decode(#"{"type":"subscribe","symbols":["AAPL"],"epoch":true}"#, .v2)
            == .success(.subscribe(symbols: ["AAPL"], depth: 1, options: SubscribeOptions(epoch: true))))
        #expect(decode(#"{"type":"subscribe","symbols":["AAPL"],"epoch":false}"#, .v2) == .success(.subscribe(symbols: ["AAPL"], depth: 1)))
        for bad in [#""yes""#, "1", "null", "tru"] {
            #expect(errorCode(#"{"type":"subscribe","symbols":["AAPL"],"epoch":"# + bad + "}", .v2) != nil, "\(bad)")
        }
        #expect(errorCode(#"{"type":"subscribe","symbols":["AAPL"],"epoch":1}"#, .v2) == "invalid_message")
        // v1 has no replies to carry it: the field is ignored like any unknown one.
        #expect(decode(#"{"type":"subscribe","symbol":"AAPL","epoch":true}"#, .v1) == .success(.subscribe(symbols: ["AAPL"], depth: 1)))
    }

    @Test func v2MayAskForDeltasAndARateCap() {
        #expect(decode(#"{"type":"subscribe","symbols":["AAPL"],"depth":10,"delta":true,"max_rate":4}"#, .v2)
            == .success(.subscribe(symbols: ["AAPL"], depth: 10, options: SubscribeOptions(delta: true, maxRate: 4))))
        #expect(decode(#"{"type":"subscribe","symbols":["AAPL"],"max_rate":1000}"#, .v2)
            == .success(.subscribe(symbols: ["AAPL"], depth: 1, options: SubscribeOptions(maxRate: 1000))))
        for bad in ["0", "1001", "-4", "2.5", #""4""#, "null", "1e4"] {
            #expect(errorCode(#"{"type":"subscribe","symbols":["AAPL"],"max_rate":"# + bad + "}", .v2) == "invalid_max_rate", "\(bad)")
        }
        #expect(errorCode(#"{"type":"subscribe","symbols":["AAPL"],"delta":"yes"}"#, .v2) == "invalid_message")
        #expect(!SubscribeOptions().asksForMore && SubscribeOptions(maxRate: 4).asksForMore && SubscribeOptions(delta: true).asksForMore)
        // v1 is frozen: the fields are ignored like any unknown one.
        #expect(decode(#"{"type":"subscribe","symbol":"AAPL","delta":true,"max_rate":0}"#, .v1) == .success(.subscribe(symbols: ["AAPL"], depth: 1)))
    }

    @Test func epochsAreHexAndDerivedOnesAreStable() {
        let random = MarketEpoch.random()
        #expect(random.value.count == 16 && MarketEpoch(random.value) == random && random != MarketEpoch.random())
        // FNV-1a 64 of "MD 2026-12-06T19:00:00Z": the same on every instance.
        #expect(MarketEpoch.derived(from: "MD 2026-12-06T19:00:00Z") == MarketEpoch.derived(from: "MD 2026-12-06T19:00:00Z"))
        #expect(MarketEpoch.derived(from: "") == MarketEpoch("cbf29ce484222325"), "the FNV-1a offset basis: the test vector for the empty identity")
        #expect(MarketEpoch.derived(from: "a") == MarketEpoch("af63dc4c8601ec8c"), "FNV-1a 64 of \"a\"")
        #expect(MarketEpoch("") == nil && MarketEpoch("ABC") == nil && MarketEpoch(String(repeating: "a", count: 65)) == nil)
    }

    @Test func listSymbolsIsV2Only() {
        #expect(decode(#"{"type":"list_symbols"}"#, .v2) == .success(.listSymbols))
        #expect(errorCode(#"{"type":"list_symbols"}"#, .v1) == "unknown_type")
    }

    @Test func errors() {
        #expect(errorCode("{not json", .v1) == "invalid_json")
        #expect(errorCode(#"{"type":"subscribe","symbol":"AAPL"} trailing"#, .v1) == "invalid_json")
        #expect(errorCode("[1,2]", .v1) == "invalid_message")
        #expect(errorCode(#"{"symbol":"AAPL"}"#, .v1) == "invalid_message")
        #expect(errorCode(#"{"type":"subscribe"}"#, .v1) == "invalid_message")
        #expect(errorCode(#"{"type":"buy","symbol":"AAPL"}"#, .v1) == "unknown_type")
        #expect(errorCode(#"{"type":"subscribe","symbol":"aapl"}"#, .v1) == "invalid_symbol")
        #expect(errorCode(#"{"type":"subscribe","symbol":".AAPL"}"#, .v1) == "invalid_symbol")
        #expect(errorCode(#"{"type":"subscribe","symbol":"ABCDEFGHIJKLMNOPQ"}"#, .v1) == "invalid_symbol")
        #expect(errorCode(#"{"type":"subscribe","symbol":7}"#, .v1) == "invalid_message")
        #expect(errorCode(#"{"type":"subscribe","symbols":["AAPL","bad sym"]}"#, .v2) == "invalid_symbol")
        #expect(errorCode(#"{"type":"subscribe","symbols":[]}"#, .v2) == "invalid_message")
        #expect(errorCode(#"{"type":"subscribe","symbols":"AAPL"}"#, .v2) == "invalid_message")
        for depth in ["0", "51", "1.5", "\"5\"", "-1", "1e2", "5.01"] {
            #expect(errorCode(#"{"type":"subscribe","symbols":["AAPL"],"depth":\#(depth)}"#, .v2) == "invalid_depth", "depth \(depth)")
        }
        // A v1 client using v2's shape is told what is missing.
        #expect(errorCode(#"{"type":"subscribe","symbols":["AAPL"]}"#, .v1) == "invalid_message")
    }

    @Test func deepNestingIsRefusedNotCrashed() {
        let deep = #"{"type":"subscribe","symbol":"A","x":"# + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "}"
        #expect(errorCode(deep, .v1) == "invalid_json")
    }
}
