import EventLoop

/// Whether a newly accepted connection is served: the gateway's connection limit and the
/// per-address limit, decided before a byte of it is read.
///
/// A connection over a limit is not dropped on the spot while there is room to say why: up to
/// `answerSlots` of them are kept just long enough to answer their first request (503 with
/// Retry-After when the gateway is full, 429 when one address has too many), then closed.
/// Past those slots a connection is closed at once, so a flood cannot use the answers to hold
/// descriptors; one address gets `answerSlotsPerAddress` answers at most, so it cannot take
/// the slots everyone else's answers need either.
struct AdmissionControl {
    enum Refusal: Equatable {
        /// `maxConnections` are open: 503, try again (or elsewhere).
        case atCapacity
        /// This address has `maxPerAddress` open: 429.
        case tooManyFromAddress

        /// The `limit` label of `tickstream_refused_connections_total`.
        var metricLabel: String { self == .atCapacity ? "max_connections" : "per_address" }
    }

    struct Decision: Equatable {
        enum Verdict: Equatable {
            /// Serve it.
            case admit
            /// Answer its first request with the refusal, then close it.
            case answer(Refusal)
            /// Close it now.
            case drop(Refusal)
        }

        let verdict: Verdict
        /// Counted against its address (admitted or answered) until `release(source)`.
        let source: PeerAddress?
    }

    let maxConnections: Int
    let maxPerAddress: Int?
    let answerSlots: Int
    let answerSlotsPerAddress: Int
    private var openPerAddress: [PeerAddress: Int] = [:]

    init(maxConnections: Int, maxPerAddress: Int?, answerSlots: Int = 64, answerSlotsPerAddress: Int = 8) {
        self.maxConnections = maxConnections
        self.maxPerAddress = maxPerAddress
        self.answerSlots = answerSlots
        self.answerSlotsPerAddress = answerSlotsPerAddress
    }

    /// Decides for a connection from `peer` while `open` connections (every state, refused
    /// ones being answered included) exist.
    mutating func decide(open: Int, peer: SocketAddress) -> Decision {
        let source = maxPerAddress == nil ? nil : PeerAddress(peer)
        let fromSource = source.map { openPerAddress[$0, default: 0] } ?? 0
        let verdict: Decision.Verdict
        if open >= maxConnections + answerSlots {
            return Decision(verdict: .drop(.atCapacity), source: nil)
        } else if let maxPerAddress, source != nil, fromSource >= maxPerAddress {
            guard fromSource < maxPerAddress + answerSlotsPerAddress else {
                return Decision(verdict: .drop(.tooManyFromAddress), source: nil)
            }
            verdict = .answer(.tooManyFromAddress)
        } else if open >= maxConnections {
            verdict = .answer(.atCapacity)
        } else {
            verdict = .admit
        }
        if let source { openPerAddress[source] = fromSource + 1 }
        return Decision(verdict: verdict, source: source)
    }

    /// Counts a connection adopted from another instance (a live handover) against its
    /// address. Never refused: it was admitted when it arrived, and moving it must not end it.
    mutating func countAdopted(peer: SocketAddress?) -> PeerAddress? {
        guard maxPerAddress != nil, let peer, let source = PeerAddress(peer) else { return nil }
        openPerAddress[source, default: 0] += 1
        return source
    }

    /// A connection admitted with `source` has ended.
    mutating func release(_ source: PeerAddress?) {
        guard let source, let count = openPerAddress[source] else { return }
        if count <= 1 { openPerAddress[source] = nil } else { openPerAddress[source] = count - 1 }
    }

    /// Addresses with at least one connection counted (bounded by the connections themselves).
    var trackedAddresses: Int { openPerAddress.count }
}
