import Testing
@testable import MarketData

@Suite struct FixedPointTests {
    @Test(arguments: [
        ("189.25", "189.25"), ("300", "300"), ("0.0001", "0.0001"), ("0", "0"), ("-2.5", "-2.5"),
        ("-0.5", "-0.5"), ("1e2", "100"), ("1.5E-3", "0.0015"), ("12.50000000", "12.5"),
        ("0.00000001", "0.00000001"), ("92233720368", "92233720368"),
    ])
    func parsesExactlyAndPrintsShortest(input: String, printed: String) throws {
        let value = try #require(FixedPoint.parse(input))
        #expect(value.description == printed)
        #expect(FixedPoint.parse(value.description) == value)
    }

    @Test(arguments: ["", "-", "1.", ".5", "01x", "1e", "0.000000001", "1e-9", "92233720369", "1e300", "NaN", "+1"])
    func refusesWhatItCannotHoldExactly(input: String) {
        #expect(FixedPoint.parse(input) == nil)
    }

    @Test func neverGoesThroughBinaryFloatingPoint() {
        // 0.1 + 0.2 is exactly 0.3 here.
        let sum = FixedPoint.parse("0.1")! + FixedPoint.parse("0.2")!
        #expect(sum == FixedPoint.parse("0.3")!)
        #expect(sum.description == "0.3")
    }
}
