import Testing
@testable import WebSocket

@Suite struct MessageReaderTests {
    /// A conversation exercising every kind of event, used for split-point tests.
    static let conversation: [UInt8] =
        TestFrames.client(.text, "Hello, κόσμε")
        + TestFrames.client(.binary, (0..<300).map { UInt8(truncatingIfNeeded: $0) })
        + TestFrames.client(.text, "frag", fin: false)
        + TestFrames.client(.ping, "p")
        + TestFrames.client(.continuation, "ment", fin: false)
        + TestFrames.client(.continuation, "ed ✓", fin: true)
        + TestFrames.client(.pong, "unsolicited")
        + TestFrames.close(1000, Array("bye".utf8))

    static let expected: [Seen] = [
        .message(.text, Array("Hello, κόσμε".utf8)),
        .message(.binary, (0..<300).map { UInt8(truncatingIfNeeded: $0) }),
        .ping(Array("p".utf8)),
        .message(.text, Array("fragmented ✓".utf8)),
        .pong(Array("unsolicited".utf8)),
        .close(1000, "bye"),
    ]

    @Test func wholeConversation() {
        #expect(drive(Self.conversation) == Self.expected)
    }

    @Test func oneByteAtATime() {
        #expect(drive(Self.conversation, chunkSize: 1) == Self.expected)
    }

    @Test func everySplitPoint() {
        for split in 1..<Self.conversation.count {
            #expect(drive(Self.conversation, splits: [split]) == Self.expected, "split at \(split)")
        }
    }

    @Test func continuationWithoutStartIs1002() {
        #expect(drive(TestFrames.client(.continuation, "x")) == [.failure(.protocolError)])
    }

    @Test func newMessageInsideFragmentedMessageIs1002() {
        let bytes = TestFrames.client(.text, "a", fin: false) + TestFrames.client(.text, "b")
        #expect(drive(bytes) == [.failure(.protocolError)])
    }

    @Test func invalidUTF8Is1007() {
        #expect(drive(TestFrames.client(.text, [0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xCF, 0x83, 0xCE, 0xBC, 0xCE, 0xB5, 0xED, 0xA0, 0x80])) == [.failure(.invalidPayloadData)])
        // A text message that ends inside a character.
        #expect(drive(TestFrames.client(.text, [0x61, 0xE2, 0x82])) == [.failure(.invalidPayloadData)])
        // Binary is not validated.
        #expect(drive(TestFrames.client(.binary, [0xFF, 0xFE])) == [.message(.binary, [0xFF, 0xFE])])
    }

    @Test func invalidUTF8FailsBeforeTheFrameEnds() {
        // 0xFF can never appear: the failure must come with the first chunk, not the last.
        var payload = Array("valid start ".utf8) + [0xFF]
        payload += [UInt8](repeating: 0x61, count: 1000)
        let frame = TestFrames.client(.text, payload)
        let firstChunk = 8 + 13  // header + "valid start " + 0xFF
        #expect(drive(Array(frame.prefix(firstChunk))) == [.failure(.invalidPayloadData)])
    }

    @Test func invalidUTF8AcrossFragmentsFailsFast() {
        // The first fragment ends inside a character that the second makes invalid.
        let bytes = TestFrames.client(.text, [0xE2, 0x82], fin: false) + TestFrames.client(.continuation, [0x41], fin: false)
        #expect(drive(bytes) == [.failure(.invalidPayloadData)])
    }

    @Test func messageSizeLimitCountsFragments() {
        let ok = TestFrames.client(.binary, [UInt8](repeating: 1, count: 60), fin: false)
            + TestFrames.client(.continuation, [UInt8](repeating: 2, count: 40))
        #expect(drive(ok, maxMessage: 100) == [.message(.binary, [UInt8](repeating: 1, count: 60) + [UInt8](repeating: 2, count: 40))])
        let tooBig = TestFrames.client(.binary, [UInt8](repeating: 1, count: 60), fin: false)
            + TestFrames.client(.continuation, [UInt8](repeating: 2, count: 41))
        #expect(drive(tooBig, maxMessage: 100) == [.failure(.messageTooBig)])
        #expect(drive(TestFrames.client(.text, String(repeating: "a", count: 101)), maxMessage: 100) == [.failure(.messageTooBig)])
    }

    @Test func closePayloadRules() {
        #expect(drive(TestFrames.client(.close, [])) == [.close(nil, "")])
        #expect(drive(TestFrames.client(.close, [0x03])) == [.failure(.protocolError)])
        #expect(drive(TestFrames.close(1001, Array("going".utf8))) == [.close(1001, "going")])
        #expect(drive(TestFrames.close(1000, [0xFF])) == [.failure(.invalidPayloadData)])
        for code: UInt16 in [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535] {
            #expect(drive(TestFrames.close(code)) == [.failure(.protocolError)], "code \(code)")
        }
        for code: UInt16 in [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999] {
            #expect(drive(TestFrames.close(code)) == [.close(code, "")], "code \(code)")
        }
    }

    @Test func controlFramesInsideFragmentsDoNotDisturbText() {
        // The ping arrives between the two halves of a three-byte character.
        let bytes = TestFrames.client(.text, [0xE2, 0x82], fin: false)
            + TestFrames.client(.ping, [0xFF])  // control payloads are not text
            + TestFrames.client(.continuation, [0xAC], fin: true)
        #expect(drive(bytes) == [.ping([0xFF]), .message(.text, [0xE2, 0x82, 0xAC])])
    }
}
