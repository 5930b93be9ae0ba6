import Testing
@testable import WebSocket

/// A tiny deterministic generator so failures reproduce.
struct TestRandom {
    var state: UInt64
    mutating func next() -> UInt64 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return state >> 33
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

@Suite struct RandomizedReaderTests {
    /// Random conversations (fragmented messages, interleaved pings, mixed sizes), masked and
    /// cut at random points, must read back exactly.
    @Test(arguments: 1...20)
    func randomConversationsRoundTrip(seed: Int) {
        var random = TestRandom(state: UInt64(seed))
        var bytes: [UInt8] = []
        var expected: [Seen] = []
        for _ in 0..<(5 + random.below(20)) {
            let isText = random.below(2) == 0
            let length = [0, 1, 125, 126, 127, 1000, 70000][random.below(7)]
            let payload: [UInt8] = isText
                ? Array(String(repeating: "ä", count: length / 2).utf8)
                : (0..<length).map { _ in UInt8(random.below(256)) }
            let pieces = 1 + random.below(4)
            var start = 0
            for piece in 0..<pieces {
                let end = piece == pieces - 1 ? payload.count : min(payload.count, start + random.below(payload.count + 1))
                let opcode: Opcode = piece == 0 ? (isText ? .text : .binary) : .continuation
                bytes += TestFrames.client(opcode, Array(payload[start..<end]), fin: piece == pieces - 1)
                start = end
                // The message is complete once its final fragment is in.
                if piece == pieces - 1 { expected.append(.message(isText ? .text : .binary, payload)) }
                if random.below(3) == 0 {
                    let ping = (0..<random.below(126)).map { _ in UInt8(random.below(256)) }
                    bytes += TestFrames.client(.ping, ping)
                    expected.append(.ping(ping))
                }
            }
        }
        var splits: [Int] = []
        var position = 0
        while position < bytes.count {
            position += 1 + random.below(3000)
            if position < bytes.count { splits.append(position) }
        }
        let seen = drive(bytes, splits: splits)
        // Compare compactly: a mismatch names the first differing event, not megabytes of bytes.
        let firstDifference = (0..<min(seen.count, expected.count)).first(where: { seen[$0] != expected[$0] }) ?? min(seen.count, expected.count)
        #expect(seen.count == expected.count && firstDifference == expected.count,
                "seed \(seed): \(seen.count) events vs \(expected.count) expected, first difference at \(firstDifference)")
    }

    /// Garbage never crashes the reader: it either waits for more bytes (bounded by the size
    /// limit) or fails with a close code.
    @Test(arguments: 1...200)
    func garbageIsRefusedNotCrashed(seed: Int) {
        var random = TestRandom(state: UInt64(seed) &* 7919)
        let garbage = (0..<random.below(2000)).map { _ in UInt8(random.below(256)) }
        let seen = drive(garbage, chunkSize: 1 + random.below(64), maxMessage: 4096)
        for event in seen {
            if case .failure(let code) = event {
                #expect([CloseCode.protocolError, .invalidPayloadData, .messageTooBig].contains(code))
            }
        }
    }
}
