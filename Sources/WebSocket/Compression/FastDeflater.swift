import ByteBuffers

/// Compresses one whole message for permessage-deflate like `MessageDeflater`, in a fraction of
/// zlib's time on short messages: LZ77 with one hash probe per position (greedy matches of 4 to
/// 258 bytes, at most `maxDistance` back) coded with DEFLATE's fixed Huffman table (RFC 1951
/// §3.2.6). zlib spends ~65,000 instructions on a 200-byte update, mostly building and sending
/// Huffman trees and clearing its tables for every message; this spends a few thousand, and
/// sends about 14% more bytes for such updates (docs/benchmarks-history.md).
///
/// Every message is compressed alone (`server_no_context_takeover`) and its matches reach back
/// at most 512 bytes, so the output suits any peer that accepted a window of 2^9 or more.
public final class FastDeflater: MessageCompressor {
    /// Farthest back a match may point: a 2^9 window.
    public static let maxDistance = 512
    private static let hashBits = 12
    /// Position + 1 of the last 4-byte sequence seen with each hash, counted over every message
    /// compressed so far, so entries from earlier messages are recognised (below `base`) and
    /// the table never needs clearing between messages.
    private let table: UnsafeMutablePointer<UInt32>
    private var base: UInt32 = 0
    private var output = GrowableBuffer()

    public init() {
        table = .allocate(capacity: 1 << Self.hashBits)
        table.initialize(repeating: 0, count: 1 << Self.hashBits)
    }

    deinit { table.deallocate() }

    /// What this compressor holds: its hash table and output space.
    public var estimatedMemoryBytes: Int { (4 << Self.hashBits) + output.capacity }

    /// The compressed form of `payload` as RFC 7692 §7.2.1 sends it: one fixed-Huffman block,
    /// then the header bits of the empty stored block that a sync flush ends with (its
    /// 00 00 FF FF removed). Valid until the next call.
    public func compress(_ payload: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        let count = payload.count
        // Literals take at most 9 bits; header, end of block and the stored block's 3 bits fit in 16 bytes.
        output.reserve(count + count / 8 + 16, keeping: 0)
        if UInt64(base) + UInt64(count) + 1 >= UInt64(UInt32.max / 2) { resetTable() }
        var bits = BitWriter(output.base!)
        bits.write(0b010, count: 3)  // BFINAL 0, BTYPE 01: fixed Huffman codes
        if count > 0 { encode(payload.baseAddress!.assumingMemoryBound(to: UInt8.self), count: count, into: &bits) }
        bits.write(0, count: 7)  // end of block (symbol 256, code 0000000)
        bits.write(0, count: 3)  // BFINAL 0, BTYPE 00: the empty stored block, aligned below
        let produced = bits.finish()
        base += UInt32(count) + 1
        return UnsafeRawBufferPointer(start: output.base, count: produced)
    }

    private func encode(_ input: UnsafePointer<UInt8>, count: Int, into bits: inout BitWriter) {
        let codes = FixedHuffman.shared
        let start = base
        var position = 0
        while position + 4 <= count {
            let word = UnsafeRawPointer(input + position).loadUnaligned(as: UInt32.self)
            let slot = Int((word &* 2_654_435_761) >> UInt32(32 - Self.hashBits))
            let candidate = table[slot]
            table[slot] = start + UInt32(position) + 1
            if candidate > start {
                let earlier = Int(candidate - start - 1)
                let distance = position - earlier
                if distance <= Self.maxDistance,
                   UnsafeRawPointer(input + earlier).loadUnaligned(as: UInt32.self) == word {
                    var length = 4
                    let limit = min(258, count - position)
                    while length < limit && input[earlier + length] == input[position + length] { length += 1 }
                    let lengthCode = codes.length[length]
                    bits.write(UInt64(lengthCode.bits), count: Int(lengthCode.count))
                    let distanceCode = codes.distance[distance]
                    bits.write(UInt64(distanceCode.bits), count: Int(distanceCode.count))
                    // Remember the positions the match covers, for matches further on.
                    var next = position + 1
                    position += length
                    while next < position && next + 4 <= count {
                        let covered = UnsafeRawPointer(input + next).loadUnaligned(as: UInt32.self)
                        table[Int((covered &* 2_654_435_761) >> UInt32(32 - Self.hashBits))] = start + UInt32(next) + 1
                        next += 1
                    }
                    continue
                }
            }
            let literal = codes.literal[Int(input[position])]
            bits.write(UInt64(literal.bits), count: Int(literal.count))
            position += 1
        }
        while position < count {
            let literal = codes.literal[Int(input[position])]
            bits.write(UInt64(literal.bits), count: Int(literal.count))
            position += 1
        }
    }

    private func resetTable() {
        table.update(repeating: 0, count: 1 << Self.hashBits)
        base = 0
    }
}

/// Writes a DEFLATE bit stream: least significant bit first, as RFC 1951 §3.1.1 packs it.
struct BitWriter {
    private let start: UnsafeMutablePointer<UInt8>
    private var cursor: UnsafeMutablePointer<UInt8>
    private var accumulator: UInt64 = 0
    private var pending = 0

    init(_ destination: UnsafeMutableRawPointer) {
        start = destination.assumingMemoryBound(to: UInt8.self)
        cursor = start
    }

    @inline(__always)
    mutating func write(_ value: UInt64, count: Int) {
        accumulator |= value << UInt64(pending)
        pending += count
        while pending >= 8 {
            cursor.pointee = UInt8(truncatingIfNeeded: accumulator)
            cursor += 1
            accumulator >>= 8
            pending -= 8
        }
    }

    /// Pads the last byte with zero bits; returns the bytes written.
    mutating func finish() -> Int {
        if pending > 0 {
            cursor.pointee = UInt8(truncatingIfNeeded: accumulator)
            cursor += 1
            accumulator = 0
            pending = 0
        }
        return cursor - start
    }
}

/// DEFLATE's fixed Huffman codes (RFC 1951 §3.2.6), bit-reversed for the LSB-first stream and
/// joined with their extra bits: one table lookup and one write per literal, length or distance.
struct FixedHuffman: Sendable {
    struct Code: Sendable {
        /// The code's bits as they go on the wire, extra bits above them.
        var bits: UInt32
        var count: UInt8
    }

    /// For each byte.
    let literal: [Code]
    /// For each match length 3...258 (indices below 3 unused).
    let length: [Code]
    /// For each distance 1...`FastDeflater.maxDistance` (index 0 unused).
    let distance: [Code]

    static let shared = FixedHuffman()

    private init() {
        func reversed(_ code: UInt32, _ count: Int) -> UInt32 {
            var result: UInt32 = 0
            for i in 0..<count where code & (1 << UInt32(i)) != 0 { result |= 1 << UInt32(count - 1 - i) }
            return result
        }
        // Literal/length symbols 0...287: 0-143 8 bits from 0x30, 144-255 9 bits from 0x190,
        // 256-279 7 bits from 0, 280-287 8 bits from 0xC0.
        func symbol(_ value: Int) -> Code {
            switch value {
            case 0...143: return Code(bits: reversed(UInt32(0x30 + value), 8), count: 8)
            case 144...255: return Code(bits: reversed(UInt32(0x190 + value - 144), 9), count: 9)
            case 256...279: return Code(bits: reversed(UInt32(value - 256), 7), count: 7)
            default: return Code(bits: reversed(UInt32(0xC0 + value - 280), 8), count: 8)
            }
        }
        literal = (0..<256).map(symbol)

        // Lengths: symbol 257 + k covers base[k] with extra[k] bits.
        let lengthBase = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
        let lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
        var lengths = [Code](repeating: Code(bits: 0, count: 0), count: 259)
        for length in 3...258 {
            let k = lengthBase.lastIndex(where: { $0 <= length })!
            let code = symbol(257 + k)
            lengths[length] = Code(bits: code.bits | UInt32(length - lengthBase[k]) << UInt32(code.count),
                                   count: code.count + UInt8(lengthExtra[k]))
        }
        length = lengths

        // Distances: 5-bit codes; code k covers base[k] with extra[k] bits.
        let distanceBase = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385]
        let distanceExtra = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7]
        var distances = [Code](repeating: Code(bits: 0, count: 0), count: FastDeflater.maxDistance + 1)
        for distance in 1...FastDeflater.maxDistance {
            let k = distanceBase.lastIndex(where: { $0 <= distance })!
            distances[distance] = Code(bits: reversed(UInt32(k), 5) | UInt32(distance - distanceBase[k]) << 5,
                                       count: 5 + UInt8(distanceExtra[k]))
        }
        distance = distances
    }
}
