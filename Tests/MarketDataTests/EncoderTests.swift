import Testing
@testable import MarketData

func encoded(_ body: (inout ByteWriter) -> Void) -> String {
    var writer = ByteWriter()
    body(&writer)
    return writer.string
}

let sampleState = BookState(
    last: FixedPoint.parse("189.25")!, bid: FixedPoint.parse("189.24")!, ask: FixedPoint.parse("189.26")!,
    levels: [
        BookLevel(bidPrice: FixedPoint.parse("189.24")!, bidSize: FixedPoint(300), askPrice: FixedPoint.parse("189.26")!, askSize: FixedPoint(200)),
        BookLevel(bidPrice: FixedPoint.parse("189.23")!, bidSize: FixedPoint(500), askPrice: FixedPoint.parse("189.27")!, askSize: FixedPoint.parse("0.5")!),
    ],
    seq: 1234, timestamp: 1_764_165_600_123_456)

@Suite struct EncoderTests {
    @Test func v1IsSymbolAndLastPrice() {
        #expect(encoded { UpdateEncoder.writeV1(symbol: "AAPL", state: sampleState, to: &$0) } == #"{"symbol":"AAPL","price":189.25}"#)
    }

    @Test func v2CarriesTheRequestedDepth() {
        #expect(encoded { UpdateEncoder.writeV2(symbol: "AAPL", state: sampleState, depth: 1, to: &$0) }
            == #"{"symbol":"AAPL","last":189.25,"bid":189.24,"ask":189.26,"depth":[[189.24,300,189.26,200]],"seq":1234,"ts":1764165600123456}"#)
        // Depth beyond the book shows what there is.
        #expect(encoded { UpdateEncoder.writeV2(symbol: "AAPL", state: sampleState, depth: 10, to: &$0) }
            == #"{"symbol":"AAPL","last":189.25,"bid":189.24,"ask":189.26,"depth":[[189.24,300,189.26,200],[189.23,500,189.27,0.5]],"seq":1234,"ts":1764165600123456}"#)
    }

    @Test func controlMessages() {
        #expect(encoded { ServerMessages.ack(subscribed: true, symbols: ["AAPL", "MSFT"], depth: 10, to: &$0) }
            == #"{"type":"subscribed","symbols":["AAPL","MSFT"],"depth":10}"#)
        // Asked for more: what it got, and which symbols have no data now.
        #expect(encoded {
            ServerMessages.ack(subscribed: true, symbols: ["AAPL", "AAPLL"], depth: 10, options: SubscribeOptions(delta: true, maxRate: 4),
                               epoch: MarketEpoch("00000000000000ff")!, unknown: ["AAPLL"], to: &$0)
        } == #"{"type":"subscribed","symbols":["AAPL","AAPLL"],"depth":10,"delta":true,"max_rate":4,"unknown":["AAPLL"]}"#)
        #expect(encoded {
            ServerMessages.ack(subscribed: true, symbols: ["AAPL"], depth: 1, options: SubscribeOptions(epoch: true),
                               epoch: MarketEpoch("00000000000000ff")!, to: &$0)
        } == #"{"type":"subscribed","symbols":["AAPL"],"depth":1,"epoch":"00000000000000ff","unknown":[]}"#)
        #expect(encoded { ServerMessages.ack(subscribed: false, symbols: ["AAPL"], depth: nil, to: &$0) }
            == #"{"type":"unsubscribed","symbols":["AAPL"]}"#)
        #expect(encoded { ServerMessages.error(CommandError("x", "say \"hi\"\n"), to: &$0) }
            == #"{"type":"error","code":"x","message":"say \"hi\"\n"}"#)
        #expect(encoded { ServerMessages.reconnect(reason: "draining", retryAfterMilliseconds: 250, to: &$0) }
            == #"{"type":"reconnect","reason":"draining","retry_after_ms":250}"#)
    }

    @Test func integersAtTheEdges() {
        #expect(encoded { $0.write(Int64.min) } == "-9223372036854775808")
        #expect(encoded { $0.write(UInt64.max) } == "18446744073709551615")
        #expect(encoded { $0.write(0) } == "0")
    }
}
