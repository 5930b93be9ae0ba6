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
    /// Deltas built (one per delta variant with subscribers per update), and the whole states
    /// that delta variants got instead (no base yet, a gap, a book not keyed by price).
    public private(set) var deltaEncodings: UInt64 = 0
    public private(set) var deltaFallbacks: UInt64 = 0
    /// What delta subscribers of each symbol hold.
    private var bases = DeltaBases()

    public init(registry: SubscriptionRegistry) {
        self.registry = registry
    }

    /// Sends `state` of `symbol` to every subscriber of it.
    public func publish(symbol: SymbolID, name: String, state: BookState) {
        // The JSON in `writer` is for this plain variant; its frame is built when first needed.
        var encoded = -1
        var plainFrame: SharedBytes?
        var deltaSubscribers = false
        registry.forEachGroup(of: symbol) { variant, group in
            let plain = variant.plain
            if plain.index != encoded {
                writer.reset()
                if plain.isDelta {
                    deltaSubscribers = true
                    writeDelta(symbol: symbol, name: name, state: state, variant: plain)
                } else {
                    UpdateEncoder.write(symbol: name, state: state, variant: plain, to: &writer)
                }
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
        if deltaSubscribers { bases.record(symbol, state) } else { bases.forget(symbol) }
        registry.noteUpdate(symbol)
    }

    /// A tick of the `perSecond` rate cap: the newest state of each symbol that changed since
    /// the last tick, encoded once per capped group and handed to all of it. `state` gives a
    /// symbol's current state and name.
    public func publishCapped(perSecond: Int, state: (SymbolID) -> (String, BookState)?) {
        registry.takeChanged(perSecond: perSecond) { symbol, variant, members in
            guard let (name, current) = state(symbol) else { return }
            let frame = encode(name: name, state: current, variant: variant)
            encodings &+= 1
            for subscriber in members {
                subscriber._withUnsafeGuaranteedRef { $0.deliver(frame, symbol: symbol) }
            }
            deliveries &+= UInt64(members.count)
        }
    }

    /// The delta to `state` for `variant`'s depth into `writer`, or the whole state when its
    /// subscribers may not hold the state before (see `DeltaEncoder`).
    private func writeDelta(symbol: SymbolID, name: String, state: BookState, variant: ProtocolVariant) {
        if let base = bases.base(of: symbol),
           DeltaEncoder.write(symbol: name, from: base, to: state, depth: variant.depth, into: &writer) {
            deltaEncodings &+= 1
            return
        }
        writer.reset()
        UpdateEncoder.write(symbol: name, state: state, variant: variant.whole, to: &writer)
        deltaFallbacks &+= 1
    }

    /// A delta subscriber was just sent `state`, the symbol's current one: with no base yet, it
    /// becomes the base, so the next update is already a delta.
    public func sentWhole(_ symbol: SymbolID, state: BookState) {
        if bases.base(of: symbol) == nil { bases.record(symbol, state) }
    }

    /// `symbol`'s state changed without a fan-out (taken over, forgotten): its next update goes
    /// to delta subscribers whole.
    public func stateReplaced(_ symbol: SymbolID) {
        bases.forget(symbol)
    }

    /// One frame of `state` in `variant` for the symbol called `name`, whole (also used for
    /// snapshots).
    public func encode(name: String, state: BookState, variant: ProtocolVariant) -> SharedBytes {
        writer.reset()
        UpdateEncoder.write(symbol: name, state: state, variant: variant.plain.whole, to: &writer)
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
