import ByteBuffers
import WebSocket

/// Turns one update into frames for everyone subscribed: for each protocol variant that has
/// subscribers, the payload and its frame header are encoded once into one shared buffer,
/// and every subscriber of that variant is handed a reference to the same bytes.
public final class FanOut {
    public let registry: SubscriptionRegistry
    private var writer = ByteWriter(capacity: 8192)

    /// Frames built (one per variant with subscribers per update): the cost side of fan-out.
    public private(set) var encodings: UInt64 = 0
    /// Compresses frames for compressed variants: one compressor for all, each message alone
    /// (server_no_context_takeover), within a 512-byte window so that any client that accepted
    /// a window of 2^9 or more can read it. (Updates are small: a larger window compresses
    /// them no better; docs/benchmarks-history.md.) nil: compressed variants get plain frames.
    public var deflater: MessageCompressor?
    /// Updates shorter than this are sent plain even to compressed variants.
    public var deflateMinBytes = 0
    /// Deflate calls for updates (at most one per compressed variant per update), and the
    /// bytes in and out; snapshots (one per subscribe, cold path) are counted apart.
    public private(set) var compressions: UInt64 = 0
    public private(set) var snapshotCompressions: UInt64 = 0
    public private(set) var bytesBeforeCompression: UInt64 = 0
    public private(set) var bytesAfterCompression: UInt64 = 0
    /// Frames handed to subscribers: the delivered side.
    public private(set) var deliveries: UInt64 = 0

    public init(registry: SubscriptionRegistry) {
        self.registry = registry
    }

    /// Sends `state` of `symbol` to every subscriber of it.
    public func publish(symbol: SymbolID, name: String, state: BookState) {
        // The JSON in `writer` is for this plain variant; its frame is built when first needed.
        var encoded = -1
        var plainFrame: SharedBytes?
        registry.forEachGroup(of: symbol) { variant, group in
            let plain = variant.plain
            if plain.index != encoded {
                writer.reset()
                UpdateEncoder.write(symbol: name, state: state, variant: plain, to: &writer)
                encoded = plain.index
                plainFrame = nil
            }
            let frame: SharedBytes
            if variant.isCompressed, let compressedFrame = compressWritten() {
                compressions &+= 1
                frame = compressedFrame
            } else if let plainFrame {
                frame = plainFrame
            } else {
                frame = FrameBuilder.textFrame(writer.bytes)
                plainFrame = frame
            }
            encodings &+= 1
            for subscriber in group {
                subscriber._withUnsafeGuaranteedRef { $0.deliver(frame, symbol: symbol) }
            }
            deliveries &+= UInt64(group.count)
        }
    }

    /// One frame of `state` in `variant` for the symbol called `name` (also used for snapshots).
    public func encode(name: String, state: BookState, variant: ProtocolVariant) -> SharedBytes {
        writer.reset()
        UpdateEncoder.write(symbol: name, state: state, variant: variant.plain, to: &writer)
        if variant.isCompressed, let frame = compressWritten() {
            snapshotCompressions &+= 1
            return frame
        }
        return FrameBuilder.textFrame(writer.bytes)
    }

    /// The JSON in `writer` as a compressed frame, or nil when it is too short to be worth it
    /// (or compression is off).
    private func compressWritten() -> SharedBytes? {
        guard let deflater, writer.count >= deflateMinBytes else { return nil }
        let compressed = deflater.compress(writer.bytes)
        bytesBeforeCompression &+= UInt64(writer.count)
        bytesAfterCompression &+= UInt64(compressed.count)
        return FrameBuilder.textFrame(compressed, compressed: true)
    }
}
