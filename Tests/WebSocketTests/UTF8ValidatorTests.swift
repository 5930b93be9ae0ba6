import Testing
import WebSocket

@Suite struct UTF8ValidatorTests {
    func valid(_ bytes: [UInt8]) -> Bool {
        var validator = UTF8Validator()
        return bytes.withUnsafeBytes { validator.validate($0) } && validator.isComplete
    }

    @Test func agreesWithTheStandardLibraryOnEveryShortSequence() {
        // Every one- and two-byte sequence, and three-byte sequences around the tricky leads.
        var samples: [[UInt8]] = (0...255).map { [UInt8($0)] }
        for a in 0...255 { for b in stride(from: 0, through: 255, by: 3) { samples.append([UInt8(a), UInt8(b)]) } }
        for a: UInt8 in [0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5] {
            for b in stride(from: 0x70, through: 0xC0, by: 1) { samples.append([a, UInt8(b), 0x80]) }
        }
        for sample in samples {
            let reference = String(validating: sample, as: UTF8.self) != nil
            #expect(valid(sample) == reference, "\(sample)")
        }
    }

    @Test func knownCases() {
        #expect(valid(Array("Hello-µ@ßöäüàá-UTF-8!!".utf8)))
        #expect(valid([0xF0, 0x90, 0x80, 0x80]))          // U+10000
        #expect(valid([0xF4, 0x8F, 0xBF, 0xBF]))          // U+10FFFF
        #expect(!valid([0xF4, 0x90, 0x80, 0x80]))         // past U+10FFFF
        #expect(!valid([0xED, 0xA0, 0x80]))               // surrogate
        #expect(!valid([0xC0, 0xAF]))                     // overlong
        #expect(!valid([0xE0, 0x80, 0xAF]))               // overlong
        #expect(!valid([0xE2, 0x82]))                     // truncated
    }

    @Test func failsAtTheFirstImpossibleByte() {
        var validator = UTF8Validator()
        #expect([UInt8]([0xCE, 0xBA]).withUnsafeBytes { validator.validate($0) })
        #expect([UInt8]([0xE1]).withUnsafeBytes { validator.validate($0) })       // incomplete, still possible
        #expect(!validator.isComplete)
        #expect(![UInt8]([0x41]).withUnsafeBytes { validator.validate($0) })      // 'A' cannot continue it
    }
}
