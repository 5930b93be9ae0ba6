import EventLoop
import MarketData
import NATS

/// Where an instance's publishers (`/feed`) and simulator send updates when there is a bus: it
/// keeps each symbol's whole state, numbers each update (`seq`), and publishes the state to
/// `<prefix>.<SYMBOL>`. The instance applies nothing itself; its own subscription brings the
/// update back like to every other instance.
///
/// One writer per symbol at a time. A writer that starts (or has been idle for
/// `writerIdle`) asks the stream for the symbol's last message and continues from its `seq`,
/// never from 1, so a publisher that moves to another instance keeps one sequence.
///
/// While the bus cannot take an update (disconnected, output bound reached) the newest state
/// per symbol waits and replaces older ones (conflation, counted): memory is bounded by the
/// number of symbols, and each published message is a whole state. While a symbol's `seq` is
/// being learnt (one round trip), its updates wait in order, up to `maxBacklog`.
public final class BusWriter: FeedIngest {
    private struct Slot {
        var state = BookState(last: .zero, bid: .zero, ask: .zero, levels: [], timestamp: 0)
        /// A publisher has given the book at least once (else the stream's book is kept).
        var hasBook = false
        var sequenceKnown = false
        var fetching = false
        /// After a failed fetch, no new one before this loop time.
        var nextFetch: UInt64 = 0
        var pending = false
        /// Loop time of the last publish (or of learning the sequence).
        var lastPublished: UInt64 = 0
        /// Updates that came while the sequence was being learnt, oldest first: published in
        /// order once it is known, so a new writer loses nothing to its first round trip.
        var backlog: [BookState] = []
    }

    /// Updates kept per symbol while its sequence is learnt; past it the newest replaces the last.
    static let maxBacklog = 256

    /// Updates published, and updates folded into a newer one before they could be.
    public private(set) var published: UInt64 = 0
    public private(set) var conflated: UInt64 = 0
    /// Symbols waiting to be published.
    public var pendingCount: Int { pending.count }

    private let loop: EventLoop
    private let service: MarketDataService
    private let client: NATSClient
    private let stream: LastValueStream
    private let settings: BusSettings
    private var slots: [Slot] = []
    private var pending: [SymbolID] = []
    private var retryTimer: Timer?
    private var streamAvailable = false
    private var payload = ByteWriter(capacity: 4096)
    private var subject: [UInt8] = []

    init(loop: EventLoop, service: MarketDataService, client: NATSClient, stream: LastValueStream, settings: BusSettings) {
        self.loop = loop
        self.service = service
        self.client = client
        self.stream = stream
        self.settings = settings
        subject.reserveCapacity(64)
    }

    func start() {
        // Retries what waits (a full output queue drains without telling us).
        retryTimer = loop.scheduleRepeating(every: 10_000_000) { [unowned self] in
            if !self.pending.isEmpty { self.flushPending() }
        }
    }

    func stop() {
        flushPending()
        retryTimer?.cancel()
        retryTimer = nil
    }

    /// A publisher's update: merged into the symbol's state (a missing book keeps the previous
    /// one) and published. False when the symbol table is full.
    public func ingest(_ update: FeedUpdate, receivedAt timestamp: Int64, now: UInt64) -> Bool {
        guard let symbol = service.symbolID(for: update.symbol) else { return false }
        let index = slot(symbol)
        slots[index].state.merge(update, receivedAt: timestamp)
        if update.hasBook { slots[index].hasBook = true }
        submit(symbol)
        return true
    }

    /// A simulator step: the symbol's whole state (its `seq` is ours to give).
    public func publish(symbol: SymbolID, state: BookState) {
        let index = slot(symbol)
        let sequence = slots[index].state.seq
        slots[index].state = state
        slots[index].state.seq = sequence
        slots[index].hasBook = true
        submit(symbol)
    }

    /// A bus message for `symbol` with `sequence` arrived: if another writer got ahead, continue
    /// after it.
    func observe(_ symbol: SymbolID, sequence: UInt64) {
        let index = Int(symbol)
        guard index < slots.count, slots[index].sequenceKnown, sequence > slots[index].state.seq else { return }
        slots[index].state.seq = sequence
    }

    /// The bus is connected again: learn the sequences still unknown and publish what waits.
    /// Without the stream there is nothing to learn from, so sequences continue from what this
    /// writer knows (from 1 after a restart).
    func busConnected(streamAvailable: Bool) {
        self.streamAvailable = streamAvailable
        flushPending()
    }

    private func slot(_ symbol: SymbolID) -> Int {
        let index = Int(symbol)
        if index >= slots.count { slots.append(contentsOf: repeatElement(Slot(), count: index + 1 - slots.count)) }
        return index
    }

    private func submit(_ symbol: SymbolID) {
        let index = Int(symbol)
        if slots[index].sequenceKnown && loop.now &- slots[index].lastPublished > settings.writerIdle && streamAvailable {
            slots[index].sequenceKnown = false
        }
        if !slots[index].sequenceKnown && (slots[index].fetching || learnSequence(symbol)) {
            if slots[index].backlog.count < Self.maxBacklog {
                slots[index].backlog.append(slots[index].state)
            } else {
                slots[index].backlog[Self.maxBacklog - 1] = slots[index].state
                conflated &+= 1
            }
            return
        }
        if slots[index].sequenceKnown && send(symbol) { return }
        if slots[index].pending {
            conflated &+= 1
        } else {
            slots[index].pending = true
            pending.append(symbol)
        }
    }

    /// Publishes the symbol's state (or an earlier `backlogged` one) with the next `seq`; false
    /// (nothing changed) when the bus cannot take it now.
    private func send(_ symbol: SymbolID, backlogged: BookState? = nil) -> Bool {
        let index = Int(symbol)
        let name = service.name(of: symbol)
        guard client.canPublish() else { return false }
        slots[index].state.seq += 1
        payload.reset()
        if var earlier = backlogged {
            earlier.seq = slots[index].state.seq
            UpdateEncoder.writeBusState(symbol: name, state: earlier, to: &payload)
        } else {
            UpdateEncoder.writeBusState(symbol: name, state: slots[index].state, to: &payload)
        }
        subject.removeAll(keepingCapacity: true)
        subject.append(contentsOf: settings.prefix.utf8)
        subject.append(UInt8(ascii: "."))
        subject.append(contentsOf: name.utf8)
        let sent = subject.withUnsafeBytes { client.publish($0, payload: payload.bytes) }
        guard sent else {
            slots[index].state.seq -= 1
            return false
        }
        slots[index].lastPublished = loop.now
        slots[index].pending = false
        published &+= 1
        return true
    }

    /// Asks the stream for the symbol's last `seq`; false when it cannot now (not connected, or
    /// soon after a failure) or need not (no stream: this writer's own count is all there is).
    @discardableResult
    private func learnSequence(_ symbol: SymbolID) -> Bool {
        let index = Int(symbol)
        guard !slots[index].fetching, client.status == .connected, loop.now >= slots[index].nextFetch else { return false }
        guard streamAvailable else {
            slots[index].sequenceKnown = true
            return false
        }
        slots[index].fetching = true
        stream.fetchLast(service.name(of: symbol)) { [unowned self] fetched in
            self.slots[index].fetching = false
            switch fetched {
            case .found(let last):
                self.slots[index].state.seq = max(self.slots[index].state.seq, last.sequence ?? 0)
                if !self.slots[index].hasBook {
                    // No update so far had a book, those waiting in the backlog included.
                    self.slots[index].state.levels = last.book
                    for waiting in self.slots[index].backlog.indices { self.slots[index].backlog[waiting].levels = last.book }
                    self.slots[index].hasBook = true
                }
            case .absent, .unreadable:
                break  // nothing to continue from (what is there is not ours to read)
            case .failed:
                self.slots[index].nextFetch = self.loop.now &+ 1_000_000_000
                self.waitWithNewest(symbol)
                return  // tried again by the retry timer
            }
            self.slots[index].sequenceKnown = true
            self.slots[index].lastPublished = self.loop.now
            self.publishBacklog(symbol)
        }
        return true
    }

    /// The sequence is known: the updates that waited for it go out in order. What the bus
    /// cannot take now folds into the newest state, published when it can.
    private func publishBacklog(_ symbol: SymbolID) {
        let index = Int(symbol)
        let backlog = slots[index].backlog
        slots[index].backlog = []
        for (position, state) in backlog.enumerated() where !send(symbol, backlogged: state) {
            conflated &+= UInt64(backlog.count - position - 1)
            waitWithNewest(symbol)
            return
        }
        if slots[index].pending { _ = send(symbol) }
    }

    /// Keeps only the newest state of the symbol, to publish when the bus can.
    private func waitWithNewest(_ symbol: SymbolID) {
        let index = Int(symbol)
        if slots[index].backlog.count > 1 { conflated &+= UInt64(slots[index].backlog.count - 1) }
        slots[index].backlog = []
        if !slots[index].pending {
            slots[index].pending = true
            pending.append(symbol)
        }
    }

    private func flushPending() {
        guard client.status == .connected else { return }
        var waiting: [SymbolID] = []
        for symbol in pending where slots[Int(symbol)].pending {
            let index = Int(symbol)
            if slots[index].sequenceKnown {
                if send(symbol) { continue }
            } else {
                learnSequence(symbol)
            }
            waiting.append(symbol)
        }
        pending = waiting
    }
}
