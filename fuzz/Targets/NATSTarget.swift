import NATS

/// What a NATS server sends, checked differentially: the operations parsed from the whole
/// input are the same as from the input cut at any point (the first byte decides where), and
/// nothing parsed breaks a bound.
public enum NATSTarget {
    public static func run(_ data: UnsafeRawBufferPointer) {
        let parser = NATSParser(maxControlLine: 512, maxPayload: 4096)
        let whole = parse(parser, data, cut: nil)
        let cut = data.isEmpty ? 0 : Int(data[0]) % (data.count + 1)
        let split = parse(parser, data, cut: cut)
        precondition(whole == split, "cutting the input changed what was parsed")
    }

    /// A readable trace of what was parsed, ending with the unconsumed byte count or the error.
    private static func parse(_ parser: NATSParser, _ data: UnsafeRawBufferPointer, cut: Int?) -> [String] {
        var trace: [String] = []
        var pending: [UInt8] = []
        var start = 0
        for end in [cut ?? data.count, data.count] where end >= start {
            pending += data[start..<end]
            start = end
            let result = pending.withUnsafeBytes { bytes in
                parser.parse(bytes) { operation in
                    switch operation {
                    case .message(let message):
                        precondition(message.payload.count <= parser.maxPayload)
                        trace.append("MSG \(Array(message.subject)) \(message.sid) \(message.replyTo.map(Array.init) ?? []) "
                            + "\(message.headers.map(Array.init) ?? []) \(Array(message.payload))")
                    case .info(let json): trace.append("INFO \(Array(json))")
                    case .ping: trace.append("PING")
                    case .pong: trace.append("PONG")
                    case .ok: trace.append("OK")
                    case .error(let text): trace.append("ERR \(text)")
                    }
                }
            }
            switch result {
            case .failure(let error):
                trace.append("error \(error)")
                return trace
            case .success(let used):
                precondition(used <= pending.count)
                pending.removeFirst(used)
            }
        }
        trace.append("left \(pending.count)")
        return trace
    }
}
