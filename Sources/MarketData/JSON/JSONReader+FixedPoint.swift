import ByteBuffers

extension JSONReader {
    /// A JSON number as a fixed-point price or size, exactly (no binary floating point).
    public mutating func readFixedPoint() throws -> FixedPoint {
        let raw = try readNumberBytes()
        guard let value = FixedPoint.parse(raw) else {
            throw Failure("number has more than \(FixedPoint.scale) decimal places or is out of range")
        }
        return value
    }
}
