import Glibc

/// The successor's side of a live handover (`--handover connections`), run in `start()` after
/// it took the listener and before its loop runs: nothing is written to an adopted connection
/// until the exchange is over, so a batch it drops was never touched.
///
/// It asks (`HANDOVER`), checks the state format the running instance announces and answers
/// `ACCEPT` or `REFUSE <why>`. It applies the market, then takes each batch: checks it, answers
/// `ADOPTED <n>`, and adopts it once the next message (another batch or `DONE`) shows the
/// running instance read that answer. A batch left unconfirmed when the exchange breaks is
/// dropped (its descriptors closed, which ends nothing while the sender holds them), so a
/// connection never has two owners.
struct HandoverReceiver {
    let channel: ControlChannel

    struct Outcome {
        var adopted = 0
        /// Connections received that could not be continued here (closed with 1001 or dropped).
        var failed = 0
        /// Why it ended early or never began; nil when it completed.
        var stoppedBecause: String?
    }

    /// `applyMarket` takes the market; `adopt` continues one connection (false if it could not).
    func run(applyMarket: (MarketHandover) -> Void, adopt: (Int32, SessionHandover) -> Bool) -> Outcome {
        var outcome = Outcome()
        guard channel.writeLine("HANDOVER"), let announced = channel.readLine() else {
            outcome.stoppedBecause = "the running instance does not hand over connections (it drains them)"
            return outcome
        }
        guard announced.hasPrefix("STATE "), let format = Int(announced.dropFirst(6)), HandoverFormat.readable.contains(format) else {
            let why = "state format \(announced.dropFirst(6)) cannot be read here (this version reads \(HandoverFormat.readable))"
            channel.writeLine("REFUSE \(why)")
            outcome.stoppedBecause = why
            return outcome
        }
        guard channel.writeLine("ACCEPT") else {
            outcome.stoppedBecause = "the running instance went away"
            return outcome
        }
        var unconfirmed: [(Int32, SessionHandover)] = []
        outcome.stoppedBecause = receiveAll(&unconfirmed, &outcome, format: format, applyMarket: applyMarket, adopt: adopt)
        // Never confirmed: the sender keeps (or has lost) these; our copies go.
        for (fd, _) in unconfirmed { Glibc.close(fd) }
        outcome.failed += unconfirmed.count
        return outcome
    }

    /// Reads messages until `DONE` (nil) or the reason the exchange ended early.
    private func receiveAll(_ unconfirmed: inout [(Int32, SessionHandover)], _ outcome: inout Outcome, format: Int,
                            applyMarket: (MarketHandover) -> Void, adopt: (Int32, SessionHandover) -> Bool) -> String? {
        var marketApplied = false
        while true {
            guard let received = channel.receive() else { return "the running instance went away mid-handover" }
            let message: ControlChannel.Message
            switch received {
            case .success(let got): message = got
            case .failure(let error):
                channel.writeLine("REFUSE \(error)")
                return "unreadable message: \(error)"
            }
            // This message proves the previous batch's ADOPTED was read: that batch is ours.
            for (fd, session) in unconfirmed {
                if adopt(fd, session) { outcome.adopted += 1 } else { outcome.failed += 1 }
            }
            unconfirmed = []
            switch message.kind {
            case .market:
                do {
                    applyMarket(try MarketHandover(decoding: message.body, version: format))
                    marketApplied = true
                } catch {
                    channel.writeLine("REFUSE market: \(error)")
                    return "unreadable market: \(error)"
                }
            case .connections:
                let sessions: [SessionHandover]
                do {
                    guard marketApplied else { throw HandoverFormatError("connections before the market") }
                    sessions = try SessionHandover.decodeBatch(message.body, format: format)
                    guard sessions.count == message.fds.count else {
                        throw HandoverFormatError("\(sessions.count) states for \(message.fds.count) descriptors")
                    }
                } catch {
                    for fd in message.fds { Glibc.close(fd) }
                    channel.writeLine("REFUSE \(error)")
                    return "unreadable batch: \(error)"
                }
                unconfirmed = Array(zip(message.fds, sessions))
                guard channel.writeLine("ADOPTED \(sessions.count)") else { return "the running instance went away mid-handover" }
            case .done:
                return nil
            }
        }
    }
}
