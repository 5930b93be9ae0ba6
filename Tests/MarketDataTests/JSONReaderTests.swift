import ByteBuffers
import Testing
@testable import MarketData

@Suite struct JSONReaderTests {
    func skips(_ text: String) -> Bool {
        Array(text.utf8).withUnsafeBytes { bytes in
            var reader = JSONReader(bytes)
            do {
                try reader.skipValue()
                try reader.finish()
                return true
            } catch {
                return false
            }
        }
    }

    @Test(arguments: [
        "{}", "[]", "0", "-0.5e+10", "\"a\\u00e9\\n\\\"\"", "true", "false", "null",
        #"{"a":[1,{"b":null}],"c":"d"}"#, " [ 1 , 2 ] ",
    ])
    func acceptsValidJSON(text: String) { #expect(skips(text)) }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\"}", "{\"a\":1,}", "01", "1.", ".1", "+1", "\"\\x\"", "\"\\u12\"", "tru",
        "\"\u{01}\"", "[1] [2]", "{'a':1}", "NaN",
    ])
    func refusesInvalidJSON(text: String) { #expect(!skips(text)) }

    @Test func integersAreRangeChecked() {
        func read(_ text: String, _ range: ClosedRange<Int64>) -> Int64? {
            Array(text.utf8).withUnsafeBytes { bytes in
                var reader = JSONReader(bytes)
                return try? reader.readInteger(in: range)
            }
        }
        #expect(read("42", 0...100) == 42)
        #expect(read("-3", -5...5) == -3)
        #expect(read("101", 0...100) == nil)
        #expect(read("1.5", 0...100) == nil)
        #expect(read("99999999999999999999", 0...Int64.max) == nil)
        // Whole values however written, as JSON Schema's "integer" reads them.
        #expect(read("2.0", 0...100) == 2)
        #expect(read("2.000", 0...100) == 2)
        #expect(read("20e-1", 0...100) == 2)
        #expect(read("0.2E1", 0...100) == 2)
        #expect(read("1e1", 0...100) == 10)
        #expect(read("-0.0", -5...5) == 0)
        #expect(read("2.0000000001", 0...100) == nil)
        #expect(read("25e-1", 0...100) == nil)
        #expect(read("1e400", 0...Int64.max) == nil)
    }
}

@Suite struct SubscriptionSlotsTests {
    @Test func behavesLikeADictionary() {
        var slots = SubscriptionSlots()
        slots[3] = SubscriptionSlot(variant: .v1, position: 7)
        slots[9] = SubscriptionSlot(variant: .v2(depth: 50), position: 1)
        #expect(slots.count == 2)
        #expect(slots[3] == SubscriptionSlot(variant: .v1, position: 7))
        #expect(slots[9]?.variant == .v2(depth: 50))
        slots[3]?.position = 4
        #expect(slots[3]?.position == 4)
        #expect(slots.removeValue(forKey: 3)?.position == 4)
        #expect(slots[3] == nil)
        #expect(slots.symbols == [9])
        #expect(slots.removeValue(forKey: 42) == nil)
    }

    /// The list grows a few entries at a time and keeps every entry through growth and
    /// removals from the middle; positions use their full 24 bits.
    @Test func keepsEveryEntryThroughGrowthAndRemovals() {
        var slots = SubscriptionSlots()
        slots.reserveCapacity(forAdditional: 3)
        for symbol in SymbolID(0)..<300 {
            slots[symbol] = SubscriptionSlot(variant: symbol % 2 == 0 ? .v1 : .v2(depth: Int(symbol % 50) + 1), position: Int(symbol) << 14)
        }
        #expect(slots.count == 300)
        for symbol in stride(from: SymbolID(0), to: 300, by: 3) { slots[symbol] = nil }
        #expect(slots.count == 200)
        for symbol in SymbolID(0)..<300 {
            let expected = symbol % 3 == 0 ? nil
                : SubscriptionSlot(variant: symbol % 2 == 0 ? .v1 : .v2(depth: Int(symbol % 50) + 1), position: Int(symbol) << 14)
            #expect(slots[symbol] == expected)
        }
        #expect(Set(slots.symbols) == Set((SymbolID(0)..<300).filter { $0 % 3 != 0 }))
    }
}
