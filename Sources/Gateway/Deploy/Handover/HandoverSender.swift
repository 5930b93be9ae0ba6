import EventLoop
import Glibc
import MarketData

/// The running instance's side of a live handover, after its successor took the listener and
/// asked for the connections too. Runs inline on the loop: nothing else can usefully happen
/// here meanwhile, and every client's pause is the handover's length.
///
/// 1. Says which state format it writes (`STATE <version>`, the newest the successor said it
///    reads); the successor answers `ACCEPT` or
///    `REFUSE <why>`. Refused: nothing moves, and the caller drains as usual.
/// 2. Stops the simulator and sends the market: every symbol's state with its `seq`, and the
///    simulator's position (`MarketHandover`).
/// 3. Sends the movable `/ws` connections in batches of up to 200 descriptors with their state
///    (`SessionHandover`). Each batch is ours until the successor answers `ADOPTED <n>`; then
///    our copies of the descriptors are closed (which does not end the TCP connections).
///    Without that answer (the successor died, stopped answering or refused the batch) the
///    batch is adopted back here, the simulator resumes, and everything left is drained.
/// 4. `DONE` confirms the last batch.
///
/// What cannot move stays and is drained: TLS connections, `/feed` publishers, `/echo`,
/// HTTP connections between requests, and any WebSocket already closing.
struct HandoverSender {
    let channel: ControlChannel
    let context: GatewayContext
    let service: MarketDataService
    let connections: ConnectionRegistry
    let endpoint: MarketDataEndpoint
    let simulator: SimulatorDriver?
    /// The newest state format the successor reads.
    var successorReads = 1

    static let batchSize = 200

    struct Outcome {
        /// Connections the successor adopted.
        var moved = 0
        /// Why the handover stopped short (refused or failed), nil when it completed.
        var stoppedBecause: String?
    }

    func run() -> Outcome {
        let format = min(HandoverFormat.version, successorReads)
        guard channel.writeLine("STATE \(format)") else { return Outcome(stoppedBecause: "the successor went away") }
        guard let answer = channel.readLine() else { return Outcome(stoppedBecause: "the successor did not answer") }
        guard answer == "ACCEPT" else { return Outcome(stoppedBecause: "refused by the successor: \(answer)") }
        let simulating = simulator?.isRunning ?? false
        simulator?.stop()
        var outcome = Outcome()
        func stop(_ why: String) -> Outcome {
            if simulating { simulator?.start(now: MonotonicClock.now()) }
            outcome.stoppedBecause = why
            return outcome
        }
        let market = MarketHandover(states: service.store.all.map { (service.name(of: $0.0), $0.1) }, simulator: simulator?.position,
                                    epoch: service.epoch)
        guard channel.send(.market, body: market.encoded(version: format)) else { return stop("the successor went away") }
        // Nothing runs between here and the last batch, so what can move now still can then.
        let movable = connections.all.compactMap { connection in
            connection.canHandOver ? (connection.session as? MarketSession).map { (connection, $0) } : nil
        }
        for start in stride(from: 0, to: movable.count, by: Self.batchSize) {
            var fds: [Int32] = []
            var sessions: [SessionHandover] = []
            for (connection, session) in movable[start..<min(start + Self.batchSize, movable.count)] {
                let part = session.prepareHandover()
                // Nil: the socket failed while writing and closed the usual way.
                guard let (fd, state) = connection.handOver() else { continue }
                session.finishHandover()
                connections.release(connection)
                fds.append(fd)
                sessions.append(SessionHandover(connection: state, version: session.version, subscriptions: part.subscriptions,
                                                claims: part.claims, conflatingFor: part.conflatingFor))
            }
            guard !fds.isEmpty else { continue }
            let sent = channel.send(.connections, fds: fds, body: SessionHandover.encodeBatch(sessions, format: format))
            let answer = sent ? channel.readLine() : nil
            if answer == "ADOPTED \(fds.count)" {
                for fd in fds { Glibc.close(fd) }  // our copies: the connections live on over there
                outcome.moved += fds.count
                context.metrics.handoverSent &+= UInt64(fds.count)
                continue
            }
            // Not confirmed: the batch is still ours (the successor drops an unconfirmed batch).
            for (fd, session) in zip(fds, sessions) {
                _ = connections.adopt(fd) { endpoint.adopt(session, socket: $0, delegate: $1) }
            }
            return stop(answer.map { "the successor refused a batch: \($0)" } ?? "the successor stopped answering")
        }
        guard channel.send(.done) else { return stop("the successor went away before the end") }
        return outcome
    }
}
