import MarketData
import Testing
@testable import loadtest

/// The load generator reads updates without a JSON parser, relying on the gateway's field
/// order; these tests hold the scanner to what the gateway's encoders actually write.
@Suite struct UpdateScannerTests {
    private let state = BookState(
        last: FixedPoint.parse("101.5")!, bid: FixedPoint.parse("101.49")!, ask: FixedPoint.parse("101.51")!,
        levels: [BookLevel(bidPrice: FixedPoint.parse("101.49")!, bidSize: FixedPoint(300),
                           askPrice: FixedPoint.parse("101.51")!, askSize: FixedPoint(200))],
        seq: 98_765, timestamp: 1_764_165_600_123_456)

    private func encode(_ variant: ProtocolVariant, symbol: String = "SYM0042") -> [UInt8] {
        var writer = ByteWriter()
        UpdateEncoder.write(symbol: symbol, state: state, variant: variant, to: &writer)
        return Array(writer.string.utf8)
    }

    @Test func readsSymbolSeqAndTimestampFromTheGatewaysV2Encoding() {
        for depth in [1, 5, 50] {
            let bytes = encode(.v2(depth: depth))
            bytes.withUnsafeBytes { raw in
                #expect(UpdateScanner.symbolNumber(raw) == 42)
                let fields = UpdateScanner.seqAndTimestamp(raw)
                #expect(fields?.0 == 98_765)
                #expect(fields?.1 == 1_764_165_600_123_456)
            }
        }
    }

    @Test func readsTheSymbolOfAV1Update() {
        encode(.v1).withUnsafeBytes { #expect(UpdateScanner.symbolNumber($0) == 42) }
        encode(.v1, symbol: "SYM0000").withUnsafeBytes { #expect(UpdateScanner.symbolNumber($0) == 0) }
    }

    @Test func acksErrorsAndOtherSymbolsAreNotUpdates() {
        let notUpdates = [
            #"{"type":"subscribed","symbols":["SYM0001"],"depth":5}"#,
            #"{"type":"error","code":"invalid_symbol","message":"unknown"}"#,
            #"{"symbol":"AAPL","price":189.25}"#,
            #"{"symbol":"SYM12x","price":1}"#,
            #"{"symbol":"SYM"#,
            "",
        ]
        for text in notUpdates {
            Array(text.utf8).withUnsafeBytes { #expect(UpdateScanner.symbolNumber($0) == nil, "\(text)") }
        }
    }

    @Test func readsSeqAndTimestampAtTheStartOfADelta() {
        for text in [#"{"symbol":"SYM0042","seq":98765,"ts":1764165600123456,"asks":[[189.27,300]]}"#,
                     #"{"symbol":"SYM0042","seq":98765,"ts":1764165600123456}"#] {
            Array(text.utf8).withUnsafeBytes { raw in
                #expect(UpdateScanner.symbolNumber(raw) == 42)
                let fields = UpdateScanner.seqAndTimestamp(raw)
                #expect(fields?.0 == 98_765 && fields?.1 == 1_764_165_600_123_456, "\(text)")
            }
        }
    }

    @Test func messagesWithoutTheV2TailHaveNoSeq() {
        for text in [#"{"symbol":"SYM0001","price":1.5}"#, #"{"type":"reconnect","reason":"draining","retry_after_ms":250}"#, "}", ""] {
            Array(text.utf8).withUnsafeBytes { #expect(UpdateScanner.seqAndTimestamp($0) == nil, "\(text)") }
        }
    }
}
