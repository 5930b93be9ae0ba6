import Testing
@testable import WebSocket

@Suite struct ExtensionListTests {
    @Test func parsesOffersParametersAndQuotedValues() {
        let list = ExtensionList(["permessage-deflate; client_max_window_bits, permessage-deflate; server_max_window_bits=\"10\"",
                                  "x-foo"])
        #expect(list?.extensions.map(\.name) == ["permessage-deflate", "permessage-deflate", "x-foo"])
        #expect(list?.extensions[0].parameters.map(\.name) == ["client_max_window_bits"])
        #expect(list?.extensions[0].parameters[0].value == nil)
        #expect(list?.extensions[1].parameters[0].value == "10")
    }

    @Test func brokenSyntaxIsRefused() {
        for broken in ["permessage-deflate;", "permessage-deflate; =1", "permessage-deflate; a=", "permessage-deflate; a=\"1",
                       "permessage deflate", "per(message", "permessage-deflate; a=\"x y\"", "a; b=1 c"] {
            #expect(ExtensionList([broken]) == nil, "\(broken)")
        }
        #expect(ExtensionList(["a, , b"])?.extensions.count == 2)
    }
}

@Suite struct DeflateNegotiationTests {
    private func negotiate(_ offers: String...) -> DeflateNegotiation.ServerOutcome {
        DeflateNegotiation.negotiate(offers: offers)
    }

    @Test func aPlainOfferIsAcceptedWithNoContextTakeoverBothWays() {
        guard case .accept(let agreed) = negotiate("permessage-deflate") else { Issue.record("declined"); return }
        #expect(agreed.responseHeader == "permessage-deflate; server_no_context_takeover; client_no_context_takeover")
        // What browsers send.
        guard case .accept(let browser) = negotiate("permessage-deflate; client_max_window_bits") else { Issue.record("declined"); return }
        #expect(browser == agreed)
    }

    @Test func everyParameterWithAndWithoutValues() {
        guard case .accept(let agreed) = negotiate("permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12") else {
            Issue.record("declined"); return
        }
        #expect(agreed.serverMaxWindowBits == 10)
        #expect(agreed.responseHeader == "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10")
    }

    @Test func invalidOffersAreDeclinedAndTheNextOneTaken() {
        for invalid in ["permessage-deflate; server_max_window_bits", "permessage-deflate; server_max_window_bits=16",
                        "permessage-deflate; server_max_window_bits=08", "permessage-deflate; server_max_window_bits=8",
                        "permessage-deflate; client_max_window_bits=7", "permessage-deflate; unknown",
                        "permessage-deflate; server_no_context_takeover=1", "permessage-deflate; client_no_context_takeover; client_no_context_takeover"] {
            #expect(negotiate(invalid) == .none, "\(invalid)")
        }
        guard case .accept(let second) = negotiate("permessage-deflate; server_max_window_bits=8, permessage-deflate; server_max_window_bits=11") else {
            Issue.record("declined"); return
        }
        #expect(second.serverMaxWindowBits == 11)
        #expect(negotiate("x-webkit-deflate-frame") == .none)
        #expect(negotiate("permessage-deflate; a=\"1") == .malformed("Sec-WebSocket-Extensions is not a valid extension list"))
        #expect(DeflateNegotiation.negotiate(offers: []) == .none)
    }

    @Test func theClientChecksTheAnswer() {
        #expect(DeflateNegotiation.clientAccept(response: []) == .success(nil))
        #expect(DeflateNegotiation.clientAccept(response: ["permessage-deflate; server_no_context_takeover; client_max_window_bits=9"])
                == .success(DeflateParameters(serverNoContextTakeover: true, clientNoContextTakeover: true, clientMaxWindowBits: 9)))
        for bad in ["permessage-deflate; client_max_window_bits", "permessage-deflate; nope", "x-other",
                    "permessage-deflate, permessage-deflate", "permessage-deflate; server_max_window_bits=16"] {
            if case .success = DeflateNegotiation.clientAccept(response: [bad]) { Issue.record("accepted \(bad)") }
        }
    }
}

@Suite struct MessageCompressionTests {
    /// RFC 7692 §7.2.3.1: "Hello" compressed in one block.
    static let helloCompressed: [UInt8] = [0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00]

    @Test func matchesTheRFCExamples() {
        let deflater = MessageDeflater(windowBits: 15, level: 6)
        let compressed = Array("Hello".utf8).withUnsafeBytes { Array(deflater.compress($0)) }
        #expect(compressed == Self.helloCompressed)
        let inflater = MessageInflater()
        let plain = Self.helloCompressed.withUnsafeBytes { try? inflater.inflate($0, limit: 100, keepContext: false).get() }.map(Array.init)
        #expect(plain == Array("Hello".utf8))
        // §7.2.3.2: a second "Hello" that refers back into the first message's window.
        let second: [UInt8] = [0xF2, 0x00, 0x11, 0x00, 0x00]
        let again = second.withUnsafeBytes { try? inflater.inflate($0, limit: 100, keepContext: true).get() }.map(Array.init)
        #expect(again == Array("Hello".utf8))
        // §7.2.3.3: stored (uncompressed) block.
        let stored: [UInt8] = [0x00, 0x05, 0x00, 0xFA, 0xFF, 0x48, 0x65, 0x6C, 0x6C, 0x6F, 0x00]
        let fresh = MessageInflater()
        let fromStored = stored.withUnsafeBytes { try? fresh.inflate($0, limit: 100, keepContext: false).get() }.map(Array.init)
        #expect(fromStored == Array("Hello".utf8))
    }

    @Test func roundTripsEverySizeAndWindow() {
        let inflater = MessageInflater()
        for windowBits in [9, 12, 15] {
            let deflater = MessageDeflater(windowBits: windowBits, level: 1)
            for size in [0, 1, 100, 4096, 70_000, 300_000] {
                let message = (0..<size).map { UInt8(truncatingIfNeeded: ($0 * 7) ^ ($0 >> 5)) }
                let compressed = message.withUnsafeBytes { Array(deflater.compress($0)) }
                let back = compressed.withUnsafeBytes { try? inflater.inflate($0, limit: 1 << 20, keepContext: false).get() }.map(Array.init)
                #expect(back == message, "window \(windowBits), size \(size)")
            }
        }
    }

    @Test func aBombStopsAtTheLimit() {
        let deflater = MessageDeflater(windowBits: 15, level: 9)
        let zeros = [UInt8](repeating: 0, count: 10 << 20)
        let bomb = zeros.withUnsafeBytes { Array(deflater.compress($0)) }
        #expect(bomb.count < 20_000)  // 10 MiB in a few KB
        let result = bomb.withUnsafeBytes { MessageInflater().inflate($0, limit: 65536, keepContext: false) }
        #expect(result.map(\.count) == .failure(.tooBig))
        // Exactly at the limit is fine.
        let exact = [UInt8](repeating: 0, count: 65536).withUnsafeBytes { Array(deflater.compress($0)) }
        #expect(exact.withUnsafeBytes { MessageInflater().inflate($0, limit: 65536, keepContext: false) }.map(\.count) == .success(65536))
    }

    @Test func garbageIsRefused() {
        let garbage: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0x12, 0x34]
        #expect(garbage.withUnsafeBytes { MessageInflater().inflate($0, limit: 1000, keepContext: false) }.map(\.count) == .failure(.corrupt))
    }
}

@Suite struct CompressedFrameReadingTests {
    private func compressed(_ text: String) -> [UInt8] {
        let deflater = MessageDeflater()
        return Array(text.utf8).withUnsafeBytes { Array(deflater.compress($0)) }
    }

    @Test func rsv1MarksACompressedMessageOnlyWhenNegotiated() {
        let frame = TestFrames.client(.text, compressed("hello hello"), rsv: 0b100)
        #expect(drive(frame, acceptsCompressed: true) == [.compressed(.text, compressed("hello hello"))])
        #expect(drive(frame) == [.failure(.protocolError)])
    }

    @Test func fragmentedCompressedMessagesCarryRSV1OnTheFirstFrameOnly() {
        let body = compressed((0..<200).map { String(($0 * 7919) % 1000) }.joined(separator: ","))
        #expect(body.count > 20)
        let first = TestFrames.client(.text, Array(body[..<10]), fin: false, rsv: 0b100)
        let rest = TestFrames.client(.continuation, Array(body[10...]))
        for chunk in [1, 5, 1000] {
            #expect(drive(first + rest, chunkSize: chunk, acceptsCompressed: true) == [.compressed(.text, body)])
        }
        let badContinuation = TestFrames.client(.continuation, Array(body[10...]), rsv: 0b100)
        #expect(drive(first + badContinuation, acceptsCompressed: true) == [.failure(.protocolError)])
        #expect(drive(TestFrames.client(.ping, [1], rsv: 0b100), acceptsCompressed: true) == [.failure(.protocolError)])
    }

    @Test func compressedTextIsNotCheckedAsUTF8BeforeInflating() {
        // Deflate output is rarely valid UTF-8; the reader must leave it to the inflater.
        let body = compressed("ünïcödé ünïcödé")
        #expect(drive(TestFrames.client(.text, body, rsv: 0b100), acceptsCompressed: true) == [.compressed(.text, body)])
    }
}

@Suite struct FastDeflaterTests {
    /// zlib with a 2^9 window inflates what it produces: valid DEFLATE, no match further back
    /// than 512 bytes, whatever the input.
    private func roundTrip(_ message: [UInt8], with deflater: FastDeflater = FastDeflater()) -> [UInt8]? {
        let inflater = MessageInflater(windowBits: 9)
        let compressed = message.withUnsafeBytes { Array(deflater.compress($0)) }
        return compressed.withUnsafeBytes { try? inflater.inflate($0, limit: 1 << 22, keepContext: false).get() }.map(Array.init)
    }

    @Test func roundTripsEveryKindOfInput() {
        var generator = SystemRandomNumberGenerator()
        let json = Array(#"{"symbol":"SYM0123","last":189.25,"bid":189.24,"ask":189.26,"depth":[[189.24,300,189.26,200],[189.23,500,189.27,100]],"seq":123456,"ts":1764165600123456}"#.utf8)
        var inputs: [[UInt8]] = [[], [0], Array("abc".utf8), Array("abcd".utf8), json,
                                 [UInt8](repeating: 7, count: 10_000),          // runs longer than 258
                                 (0..<5000).map { UInt8(truncatingIfNeeded: $0 % 600) },  // repeats 600 apart: beyond the window
                                 (0..<3000).map { UInt8(truncatingIfNeeded: $0 % 512) },  // repeats exactly 512 apart
                                 (0..<70_000).map { _ in UInt8.random(in: 0...255, using: &generator) }]
        for _ in 0..<200 {
            let size = Int.random(in: 0...3000, using: &generator)
            let alphabet = UInt8.random(in: 1...255, using: &generator)
            inputs.append((0..<size).map { _ in UInt8.random(in: 0...alphabet, using: &generator) })
        }
        let deflater = FastDeflater()  // one for all: state from earlier messages must not leak
        for input in inputs {
            #expect(roundTrip(input, with: deflater) == input, "size \(input.count)")
        }
    }

    @Test func compressesMarketDataAndEndsLikeASyncFlush() {
        let json = Array((0..<50).map { #"[189.\#($0 % 90 + 10),\#(100 * ($0 % 7 + 1)),190.\#($0 % 90 + 10),\#(100 * ($0 % 5 + 1))]"# }.joined(separator: ",").utf8)
        let deflater = FastDeflater()
        let compressed = json.withUnsafeBytes { Array(deflater.compress($0)) }
        #expect(compressed.count < json.count / 2)
        // Appending the removed 00 00 FF FF gives a stream zlib reads to its end with no error.
        #expect(roundTrip(json) == json)
    }

    @Test func compressesNearlyAsWellAsZlib() {
        // Same input through zlib (level 6) and this: at most a third larger.
        let json = Array(#"{"symbol":"SYM0123","last":189.25,"bid":189.24,"ask":189.26,"depth":[[189.24,300,189.26,200],[189.23,500,189.27,100],[189.22,700,189.28,900],[189.21,1000,189.29,300],[189.2,200,189.3,400]],"seq":123456,"ts":1764165600123456}"#.utf8)
        let zlib = MessageDeflater(windowBits: 9, level: 6, memoryLevel: 2)
        let fast = FastDeflater()
        let zlibSize = json.withUnsafeBytes { zlib.compress($0).count }
        let fastSize = json.withUnsafeBytes { fast.compress($0).count }
        #expect(fastSize < json.count * 3 / 4)
        #expect(fastSize <= zlibSize * 4 / 3)
    }
}

@Suite struct TieredCompressorTests {
    @Test func shortMessagesGoToTheFastEncoderLongOnesToZlib() {
        let compressor = TieredCompressor(threshold: 1024)
        let inflater = MessageInflater(windowBits: 9)
        for size in [10, 1023, 1024, 5000] {
            let message = (0..<size).map { UInt8(truncatingIfNeeded: ($0 % 37) + 48) }
            let compressed = message.withUnsafeBytes { Array(compressor.compress($0)) }
            let back = compressed.withUnsafeBytes { try? inflater.inflate($0, limit: 1 << 20, keepContext: false).get() }.map(Array.init)
            #expect(back == message, "size \(size)")
            // Byte for byte what the chosen encoder alone produces.
            let zlib = MessageDeflater(windowBits: 9, level: 6, memoryLevel: 2)
            let fast = FastDeflater()
            let expected = message.withUnsafeBytes { Array(size < 1024 ? fast.compress($0) : zlib.compress($0)) }
            #expect(compressed == expected, "size \(size)")
        }
    }
}
