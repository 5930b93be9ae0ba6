import Testing
@testable import Bus

@Suite struct LastValueStreamTests {
    @Test func theFleetsSymbolsComeFromTheStreamInfosSubjects() {
        // As nats-server 2.9 answers $JS.API.STREAM.INFO with a subjects filter (abridged).
        let reply = #"{"type":"io.nats.jetstream.api.v1.stream_info_response","config":{"name":"MD","subjects":["md.\u003e"]},"#
            + #""state":{"messages":3,"num_subjects":4,"subjects":{"md.AAPL":1,"md.BRK.B":1,"md.bad":1,"other.X":1},"consumer_count":0}}"#
        #expect(LastValueStream.symbols(inStreamInfo: Array(reply.utf8), prefix: "md") == ["AAPL", "BRK.B"])
        #expect(LastValueStream.symbols(inStreamInfo: Array(#"{"state":{"messages":0}}"#.utf8), prefix: "md") == nil)
        #expect(LastValueStream.symbols(inStreamInfo: Array(#"{"state":{"subjects":{}}}"#.utf8), prefix: "md") == [])
    }

    @Test func aStoredMessageIsUsedOnlyIfItIsABusMessageForTheSymbol() {
        let message = Array(#"{"symbol":"AAPL","last":1,"bid":1,"ask":1,"book":[],"seq":12,"ts":5}"#.utf8)
        #expect(LastValueStream.decode(message, symbol: "AAPL")?.sequence == 12)
        #expect(LastValueStream.decode(message, symbol: "MSFT") == nil)
        #expect(LastValueStream.decode(Array("hello2".utf8), symbol: "AAPL") == nil)
    }
}
