import WebSocket

/// The zlib streams every compressing connection of one loop shares: one inflater for peers
/// that reset their compressor per message, and one deflater per window size. Because
/// permessage-deflate here never carries context between messages on our side, no connection
/// owns a compressor, and an idle compressed connection costs no zlib memory.
public final class CompressionWorkspace {
    /// Inflates messages of peers that use no context takeover.
    public let inflater = MessageInflater(retainedCapacity: 1 << 20)
    private var deflaters: [MessageDeflater?] = Array(repeating: nil, count: 16)
    /// zlib level for what connections compress (echo replies, control replies).
    public let level: Int

    public init(level: Int = 1) {
        self.level = level
    }

    /// What the shared streams hold now (estimated from zlib's documented sizes).
    public var estimatedMemoryBytes: Int {
        inflater.estimatedMemoryBytes + deflaters.reduce(0) { $0 + ($1?.estimatedMemoryBytes ?? 0) }
    }

    /// The deflater for messages that must fit a 2^`windowBits` window (9...15).
    public func deflater(windowBits: Int) -> MessageDeflater {
        if let deflater = deflaters[windowBits] { return deflater }
        let deflater = MessageDeflater(windowBits: windowBits, level: level)
        deflaters[windowBits] = deflater
        return deflater
    }
}

/// permessage-deflate on one connection: what was agreed and which zlib streams serve it.
public final class ConnectionCompression {
    public let parameters: DeflateParameters
    let workspace: CompressionWorkspace
    /// Messages this connection sends itself (not shared frames) are compressed from this
    /// size up; smaller ones go out plain, which RFC 7692 allows per message.
    let minimumBytes: Int
    /// The peer keeps its window between messages, so this connection needs its own inflater.
    private let ownInflater: MessageInflater?
    /// Window our messages must fit; nil when it is one zlib cannot honour (2^8): then nothing
    /// we send is compressed.
    let sendWindowBits: Int?

    /// `role`: ours. `minimumBytes`: the smallest message worth compressing when sent.
    public init(parameters: DeflateParameters, role: WebSocketConnection.Role, workspace: CompressionWorkspace, minimumBytes: Int = 0) {
        self.parameters = parameters
        self.workspace = workspace
        self.minimumBytes = minimumBytes
        let peerKeepsContext = role == .server ? !parameters.clientNoContextTakeover : !parameters.serverNoContextTakeover
        let peerWindow = role == .server ? parameters.clientMaxWindowBits : parameters.serverMaxWindowBits
        ownInflater = peerKeepsContext ? MessageInflater(windowBits: max(peerWindow, 9), retainedCapacity: 16 * 1024) : nil
        let window = role == .server ? parameters.serverMaxWindowBits : parameters.clientMaxWindowBits
        sendWindowBits = window >= 9 ? window : nil
    }

    /// Inflate memory this connection holds by itself: 0 unless the peer keeps its window
    /// between messages (a server that refused `server_no_context_takeover`).
    public var ownInflateBytes: Int { ownInflater?.estimatedMemoryBytes ?? 0 }

    /// Whether the peer keeps its compression window between messages: then this connection
    /// holds a zlib stream of its own, which cannot move to another process.
    public var keepsPeerContext: Bool { ownInflater != nil }

    /// Inflates a message the peer sent compressed, within `limit` inflated bytes.
    func inflate(_ payload: UnsafeRawBufferPointer, limit: Int) -> Result<UnsafeRawBufferPointer, MessageInflater.Failure> {
        if let ownInflater { return ownInflater.inflate(payload, limit: limit, keepContext: true) }
        return workspace.inflater.inflate(payload, limit: limit, keepContext: false)
    }

    /// The deflater for a message of `count` bytes, or nil when it goes out plain.
    func deflater(for count: Int) -> MessageDeflater? {
        guard count >= minimumBytes, let sendWindowBits else { return nil }
        return workspace.deflater(windowBits: sendWindowBits)
    }
}
