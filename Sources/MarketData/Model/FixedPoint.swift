/// A decimal number held as an integer count of 10^-8 units: prices and sizes travel from
/// the feed to the wire without ever being binary floating point, so `189.25` is printed as
/// `189.25`, never `189.24999999`.
public struct FixedPoint: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Decimal places kept.
    public static let scale = 8
    /// 10^scale.
    public static let unit: Int64 = 100_000_000

    /// The value times 10^8.
    public var units: Int64

    public init(units: Int64) { self.units = units }

    /// `whole` plus `fraction` hundred-millionths: `FixedPoint(189, 25_000_000)` is 189.25.
    public init(_ whole: Int64, _ fraction: Int64 = 0) { units = whole * Self.unit + fraction }

    public static let zero = FixedPoint(units: 0)

    public static func < (a: FixedPoint, b: FixedPoint) -> Bool { a.units < b.units }
    public static func + (a: FixedPoint, b: FixedPoint) -> FixedPoint { FixedPoint(units: a.units + b.units) }
    public static func - (a: FixedPoint, b: FixedPoint) -> FixedPoint { FixedPoint(units: a.units - b.units) }

    public var description: String {
        var writer = ByteWriter(capacity: 32)
        writer.write(self)
        return writer.string
    }

    /// Parses a JSON number exactly: optional minus, digits, optional fraction, optional
    /// exponent. Nil when it is not a number, has more than 8 decimal places after the
    /// exponent is applied, or does not fit.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> FixedPoint? {
        var index = 0
        let count = bytes.count
        guard count > 0 else { return nil }
        var negative = false
        if bytes[0] == UInt8(ascii: "-") {
            negative = true
            index = 1
        }
        var digits: Int64 = 0          // all significant digits as an integer
        var fractionDigits = 0         // how many of them come after the point
        var sawDigit = false
        func addDigit(_ d: UInt8) -> Bool {
            let (times10, o1) = digits.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int64(d - UInt8(ascii: "0")))
            digits = sum
            return !(o1 || o2)
        }
        while index < count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
            guard addDigit(bytes[index]) else { return nil }
            sawDigit = true
            index += 1
        }
        guard sawDigit else { return nil }
        if index < count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            var sawFraction = false
            while index < count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
                guard addDigit(bytes[index]) else { return nil }
                fractionDigits += 1
                sawFraction = true
                index += 1
            }
            guard sawFraction else { return nil }
        }
        var exponent = 0
        if index < count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            var exponentNegative = false
            if index < count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                exponentNegative = bytes[index] == UInt8(ascii: "-")
                index += 1
            }
            var sawExponent = false
            while index < count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
                exponent = exponent * 10 + Int(bytes[index] - UInt8(ascii: "0"))
                guard exponent < 100 else { return nil }
                sawExponent = true
                index += 1
            }
            guard sawExponent else { return nil }
            if exponentNegative { exponent = -exponent }
        }
        guard index == count else { return nil }
        // value = digits * 10^(exponent - fractionDigits); units = value * 10^scale
        var shift = exponent - fractionDigits + scale
        var units = digits
        while shift > 0 {
            let (next, overflow) = units.multipliedReportingOverflow(by: 10)
            guard !overflow else { return nil }
            units = next
            shift -= 1
        }
        while shift < 0 {
            // Only trailing zeros may be dropped: anything else needs more than 8 places.
            guard units % 10 == 0 else { return nil }
            units /= 10
            shift += 1
        }
        return FixedPoint(units: negative ? -units : units)
    }

    public static func parse(_ text: String) -> FixedPoint? {
        var text = text
        return text.withUTF8 { parse(UnsafeRawBufferPointer($0)) }
    }
}
