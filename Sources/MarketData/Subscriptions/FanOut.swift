import ByteBuffers

/// Turns one update into frames for everyone subscribed: for each protocol variant that has
/// subscribers, the payload and its frame header are encoded once into one shared buffer,
/// and every subscriber of that variant is handed a reference to the same bytes.
public final class FanOut {
    public let registry: SubscriptionRegistry
    private var writer = ByteWriter(capacity: 8192)

    /// Frames encoded (one per variant per update): the cost side of fan-out.
    public private(set) var encodings: UInt64 = 0
    /// Frames handed to subscribers: the delivered side.
    public private(set) var deliveries: UInt64 = 0

    public init(registry: SubscriptionRegistry) {
        self.registry = registry
    }

    /// Sends `state` of `symbol` to every subscriber of it.
    public func publish(symbol: SymbolID, name: String, state: BookState) {
        registry.forEachGroup(of: symbol) { variant, group in
            let frame = encode(name: name, state: state, variant: variant)
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
        UpdateEncoder.write(symbol: name, state: state, variant: variant, to: &writer)
        return FrameBuilder.textFrame(writer.bytes)
    }
}
