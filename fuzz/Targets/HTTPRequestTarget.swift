import HTTP

/// The request parser on whole input and on every prefix a slow client could have sent: a
/// prefix may need more or fail, and once the whole input parses, no prefix may parse
/// differently.
public enum HTTPRequestTarget {
    public static func run(_ data: UnsafeRawBufferPointer) {
        let parser = HTTPRequestParser(maxHeaderBytes: 1024, maxBodyBytes: 1024)
        let whole = parser.parse(data)
        guard case .complete(let head, let consumed) = whole else { return }
        precondition(consumed <= data.count && consumed > 0)
        precondition(head.path.utf8.count <= head.target.utf8.count)
        for cut in stride(from: 0, to: consumed, by: max(1, consumed / 16)) {
            if case .complete(let early, _) = parser.parse(UnsafeRawBufferPointer(rebasing: data[0..<cut])) {
                preconditionFailure("a prefix of \(cut) bytes parsed as \(early.method) \(early.target) before the head ended")
            }
        }
        _ = head.keepAlive
        _ = head.tokens("connection")
    }
}
