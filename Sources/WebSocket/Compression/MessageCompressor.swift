/// Anything that compresses one message alone for permessage-deflate.
public protocol MessageCompressor: AnyObject {
    /// The compressed form, valid until the next call.
    func compress(_ payload: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer
    var estimatedMemoryBytes: Int { get }
}

extension MessageDeflater: MessageCompressor {}
