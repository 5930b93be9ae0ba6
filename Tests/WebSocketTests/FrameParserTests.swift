import Testing
@testable import WebSocket

@Suite struct FrameParserTests {
    func parse(_ bytes: [UInt8], role: FrameParser.Role = .server, max: Int = 1 << 20) -> FrameParser.Result {
        var parser = FrameParser(role: role, maxPayloadLength: max)
        var copy = bytes
        return copy.withUnsafeMutableBytes { parser.next($0) }
    }

    @Test(arguments: [0, 1, 125, 126, 127, 65535, 65536, 70000])
    func lengthEncodingsRoundTrip(length: Int) throws {
        let payload = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var frame = TestFrames.client(.binary, payload)
        let expectedHeader = length < 126 ? 6 : (length <= 65535 ? 8 : 14)
        #expect(frame.count == expectedHeader + length)
        var parser = FrameParser(role: .server, maxPayloadLength: 1 << 20)
        let result = frame.withUnsafeMutableBytes { parser.next($0) }
        guard case .frame(let header, let range, _) = result else {
            Issue.record("expected a frame, got \(result)")
            return
        }
        #expect(header.payloadLength == length)
        #expect(header.headerLength == expectedHeader)
        #expect(Array(frame[range]) == payload)
    }

    @Test func unmaskedClientFrameIs1002() {
        let frame = FrameEncoder.frame(opcode: .text, payload: Array("hi".utf8))
        #expect(parse(frame) == .failure(ProtocolFailure(.protocolError, "client frame not masked")))
    }

    @Test func maskedServerFrameIs1002ForAClient() {
        #expect(parse(TestFrames.client(.text, "hi"), role: .client) == .failure(ProtocolFailure(.protocolError, "server frame masked")))
        guard case .frame = parse(FrameEncoder.frame(opcode: .text, payload: Array("hi".utf8)), role: .client) else {
            Issue.record("a client must accept an unmasked server frame")
            return
        }
    }

    @Test(arguments: [UInt8(1), 2, 4, 7])
    func rsvBitsWithoutExtensionAre1002(rsv: UInt8) {
        guard case .failure(let failure) = parse(TestFrames.client(.text, Array("x".utf8), rsv: rsv)) else {
            Issue.record("RSV \(rsv) accepted")
            return
        }
        #expect(failure.code == .protocolError)
    }

    @Test(arguments: [UInt8(3), 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF])
    func reservedOpcodesAre1002(opcode: UInt8) {
        guard case .failure(let failure) = parse(TestFrames.client(Opcode(rawValue: opcode), [])) else {
            Issue.record("opcode \(opcode) accepted")
            return
        }
        #expect(failure.code == .protocolError)
    }

    @Test func controlFrameRules() {
        guard case .failure(let long) = parse(TestFrames.client(.ping, [UInt8](repeating: 0, count: 126))) else {
            Issue.record("126-byte ping accepted")
            return
        }
        #expect(long.code == .protocolError)
        guard case .failure(let fragmented) = parse(TestFrames.client(.ping, [1], fin: false)) else {
            Issue.record("fragmented ping accepted")
            return
        }
        #expect(fragmented.code == .protocolError)
        guard case .frame = parse(TestFrames.client(.ping, [UInt8](repeating: 7, count: 125))) else {
            Issue.record("125-byte ping refused")
            return
        }
    }

    @Test func oversizedFrameIs1009FromTheHeaderAlone() {
        // Only the header: the parser must not wait for 1 MiB of payload to refuse it.
        let header = Array(TestFrames.client(.binary, [UInt8](repeating: 0, count: 2000)).prefix(8))
        guard case .failure(let failure) = parse(header, max: 1000) else {
            Issue.record("oversized frame not refused")
            return
        }
        #expect(failure.code == .messageTooBig)
    }

    @Test func sixtyFourBitLengthWithHighBitIs1002() {
        var frame: [UInt8] = [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4]
        let result = frame.withUnsafeMutableBytes { buffer -> FrameParser.Result in
            var parser = FrameParser(role: .server, maxPayloadLength: .max)
            return parser.next(buffer)
        }
        #expect(result == .failure(ProtocolFailure(.protocolError, "64-bit length with the high bit set")))
    }

    @Test func reportsNewPayloadAsItArrives() {
        let payload = Array("abcdefghij".utf8)
        let frame = TestFrames.client(.text, payload)
        var parser = FrameParser(role: .server, maxPayloadLength: 100)
        var buffer = Array(frame.prefix(9))  // header (6) + 3 payload bytes
        let first = buffer.withUnsafeMutableBytes { parser.next($0) }
        guard case .needMore(let header?, let newPayload) = first else {
            Issue.record("expected needMore with a header, got \(first)")
            return
        }
        #expect(header.payloadLength == 10)
        #expect(newPayload == 6..<9)
        #expect(Array(buffer[newPayload]) == Array("abc".utf8))
        buffer += frame[9...]
        let second = buffer.withUnsafeMutableBytes { parser.next($0) }
        guard case .frame(_, let range, let rest) = second else {
            Issue.record("expected the frame, got \(second)")
            return
        }
        #expect(rest == 9..<16)
        #expect(Array(buffer[range]) == payload)
    }

    @Test func maskingIsItsOwnInverseAtEveryOffset() {
        let original = (0..<37).map { UInt8($0) }
        for offset in 0..<4 {
            var bytes = original
            bytes.withUnsafeMutableBytes { Masking.apply(key: 0xA1B2_C3D4, to: $0, payloadOffset: offset) }
            #expect(bytes != original)
            bytes.withUnsafeMutableBytes { Masking.apply(key: 0xA1B2_C3D4, to: $0, payloadOffset: offset) }
            #expect(bytes == original)
        }
        // Piecewise masking equals masking in one go.
        var whole = original
        whole.withUnsafeMutableBytes { Masking.apply(key: 0x0102_0304, to: $0, payloadOffset: 0) }
        var pieces = original
        pieces.withUnsafeMutableBytes { buffer in
            Masking.apply(key: 0x0102_0304, to: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<5]), payloadOffset: 0)
            Masking.apply(key: 0x0102_0304, to: UnsafeMutableRawBufferPointer(rebasing: buffer[5..<19]), payloadOffset: 5)
            Masking.apply(key: 0x0102_0304, to: UnsafeMutableRawBufferPointer(rebasing: buffer[19...]), payloadOffset: 19)
        }
        #expect(whole == pieces)
    }
}
