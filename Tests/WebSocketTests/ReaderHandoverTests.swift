import Testing
@testable import WebSocket

/// A reader stopped anywhere in a conversation (mid-frame, mid-fragmented message, mid UTF-8
/// sequence) and resumed in a fresh reader, as a live handover does across processes, must
/// report exactly what one reader would have.
@Suite struct ReaderHandoverTests {
    private func feed(_ reader: MessageReader, _ buffered: inout [UInt8], _ bytes: ArraySlice<UInt8>, into seen: inout [Seen]) {
        buffered += bytes
        readAvailable(reader, &buffered, into: &seen)
    }

    /// Reads up to `cut` in one reader and the rest in a reader resumed from it.
    private func handedOver(_ bytes: [UInt8], at cut: Int, acceptsCompressed: Bool = false) -> [Seen]? {
        let first = MessageReader(role: .server, maxMessageLength: 1 << 20)
        first.acceptsCompressed = acceptsCompressed
        var buffered: [UInt8] = []
        var seen: [Seen] = []
        feed(first, &buffered, bytes[..<cut], into: &seen)
        if case .failure = seen.last { return seen }  // a failed connection is closed, not handed over
        let progress = buffered.withUnsafeMutableBytes { first.suspend(unconsumed: $0) }
        guard let second = MessageReader(role: .server, maxMessageLength: 1 << 20, acceptsCompressed: acceptsCompressed,
                                         resuming: progress) else { return nil }
        feed(second, &buffered, bytes[cut...], into: &seen)
        return seen
    }

    @Test func aReaderResumesAtEveryByteOfAConversation() {
        let bytes = MessageReaderTests.conversation
        for cut in 0...bytes.count {
            #expect(handedOver(bytes, at: cut) == MessageReaderTests.expected, "cut at \(cut)")
        }
    }

    /// Invalid UTF-8 split across the handover is still caught: the resumed reader validates
    /// the fragments it was given again.
    @Test func invalidTextAcrossTheCutIsStillRefused() {
        let bytes = TestFrames.client(.text, [0x61, 0xCE], fin: false) + TestFrames.client(.continuation, [0x28], fin: true)
        for cut in 0...bytes.count {
            #expect(handedOver(bytes, at: cut) == [.failure(.invalidPayloadData)], "cut at \(cut)")
        }
    }

    /// A compressed fragmented message resumes still compressed, and only where compression was agreed.
    @Test func aCompressedMessageResumesCompressed() {
        let bytes = TestFrames.client(.text, [1, 2, 3], fin: false, rsv: 0b100) + TestFrames.client(.continuation, [4, 5], fin: true)
        for cut in 0...bytes.count {
            #expect(handedOver(bytes, at: cut, acceptsCompressed: true) == [.compressed(.text, [1, 2, 3, 4, 5])], "cut at \(cut)")
        }
        let progress = MessageReader.Progress(fragmentOpcode: .text, compressed: true, fragments: [1])
        #expect(MessageReader(role: .server, maxMessageLength: 100, acceptsCompressed: false, resuming: progress) == nil)
        let tooBig = MessageReader.Progress(fragmentOpcode: .binary, fragments: Array(repeating: 0, count: 101))
        #expect(MessageReader(role: .server, maxMessageLength: 100, acceptsCompressed: false, resuming: tooBig) == nil)
        let notData = MessageReader.Progress(fragmentOpcode: .ping, fragments: [])
        #expect(MessageReader(role: .server, maxMessageLength: 100, acceptsCompressed: false, resuming: notData) == nil)
    }
}
