import Bus
import ByteBuffers
import EventLoop
import MarketData
import NATS
import TestSupport
import Testing

/// Stands in for a client connection: keeps what the fan-out hands it.
final class Watcher: Subscriber {
    var frames: [String] = []
    override func deliver(_ frame: SharedBytes, symbol: SymbolID) {
        frames.append(frame.withBytes { String(decoding: $0.dropFirst($0[1] & 0x7F == 126 ? 4 : 2), as: UTF8.self) })
    }
    /// The `seq` of each update received.
    var seqs: [Int] { frames.compactMap { $0.split(separator: "\"seq\":").last.flatMap { Int($0.prefix { $0.isNumber }) } } }
}

/// A bus message for AAPL with `seq`.
func busMessage(_ seq: Int, last: String = "1.5") -> String {
    #"{"symbol":"AAPL","last":"# + last + #","bid":1,"ask":2,"book":[[1,100,2,100]],"seq":"# + String(seq) + #","ts":1764165600000000}"#
}

/// A publisher's update of AAPL (no book, no `ts`).
func update(last: String, bid: String = "1", ask: String = "9") -> FeedUpdate {
    var update = FeedUpdate()
    update.symbol = "AAPL"
    update.last = FixedPoint.parse(last)!
    update.bid = FixedPoint.parse(bid)!
    update.ask = FixedPoint.parse(ask)!
    return update
}

@Suite(.serialized) struct MarketBusTests {
    func makeBus(_ jetstream: ScriptedJetStream, loop: EventLoop, following: BusSettings.Following = .interest)
        -> (MarketBus, MarketDataService) {
        let service = MarketDataService(maxSubscriptions: 10, maxSymbols: 100)
        var settings = BusSettings(servers: try! NATSServerURL.parseList(jetstream.url).get())
        settings.following = following
        settings.writerIdle = 60_000_000_000
        return (MarketBus(loop: loop, service: service, settings: settings), service)
    }

    func connect(_ bus: MarketBus, _ jetstream: ScriptedJetStream, _ loop: EventLoop) {
        bus.start()
        #expect(run(loop, until: { jetstream.pump(); return bus.isConnected && bus.streamProblem == nil }, seconds: 5))
    }

    @Test func aFollowerAppliesInOrderDropsWhatIsStaleAndCountsGaps() throws {
        let loop = try EventLoop()
        let jetstream = try ScriptedJetStream()
        let (bus, service) = makeBus(jetstream, loop: loop)
        jetstream.store("md.AAPL", busMessage(40))
        connect(bus, jetstream, loop)
        let watcher = Watcher()
        service.registry.subscribe(watcher, to: service.symbolID(for: "AAPL")!, variant: .v2(depth: 1))
        // Following AAPL: subscribed on the bus, and its last value fetched as the snapshot.
        #expect(run(loop, until: { jetstream.pump(); return watcher.seqs == [40] }))
        #expect(jetstream.subscriptions.contains { $0.subject == "md.AAPL" })
        for seq in [41, 42, 42, 39, 45] {
            jetstream.inject("md.AAPL", busMessage(seq))
        }
        #expect(run(loop, until: { jetstream.pump(); return watcher.seqs.last == 45 }))
        #expect(watcher.seqs == [40, 41, 42, 45])  // a repeat and an older one dropped
        #expect(bus.statistics.stale == 2 && bus.statistics.missedUpdates == 2 && bus.statistics.applied == 4)
        // Not a bus message: counted, never fanned out.
        jetstream.inject("md.AAPL", #"{"symbol":"MSFT","last":1,"seq":99}"#)
        jetstream.inject("md.AAPL", "garbage")
        #expect(run(loop, until: { jetstream.pump(); return bus.statistics.malformed == 2 }))
        #expect(watcher.seqs.last == 45)
        bus.stop()
    }

    @Test func aWriterContinuesTheStreamsSequenceAndKeepsItsBacklogInOrder() throws {
        let loop = try EventLoop()
        let jetstream = try ScriptedJetStream()
        let (bus, service) = makeBus(jetstream, loop: loop)
        // Another writer (a previous process) got AAPL to 41.
        jetstream.store("md.AAPL", busMessage(41))
        connect(bus, jetstream, loop)
        jetstream.holdDirectGets = true
        let now = loop.now
        for last in ["2.5", "2.6", "2.7"] {
            #expect(bus.writer.ingest(update(last: last), receivedAt: 1_764_165_600_000_000, now: now))
        }
        // While the sequence is being learnt nothing goes out, and nothing is lost.
        run(loop, for: 0.05)
        jetstream.pump()
        #expect(jetstream.published.isEmpty && jetstream.directGets == 1)
        jetstream.releaseHeldGets()
        #expect(run(loop, until: { jetstream.pump(); return jetstream.published.count == 3 }))
        let sent = jetstream.published.map { $0.payload }
        #expect(sent.map { $0.contains("\"seq\":42") } == [true, false, false])
        #expect(sent[1].contains("\"seq\":43") && sent[2].contains("\"seq\":44"))
        #expect(sent[0].contains("\"last\":2.5") && sent[2].contains("\"last\":2.7"))
        // The publisher's book was missing: the stream's book is kept.
        #expect(sent[0].contains("\"book\":[[1,100,2,100]]"))
        #expect(service.symbols.id(of: "AAPL") != nil)
        bus.stop()
    }

    @Test func whileTheBusIsAwayTheNewestStateWaitsAndGoesOutOnce() throws {
        let loop = try EventLoop()
        let jetstream = try ScriptedJetStream()
        let (bus, _) = makeBus(jetstream, loop: loop)
        bus.start()
        // Not connected yet (the server has not answered): updates fold into the newest.
        let now = loop.now
        for index in 1...5 {
            #expect(bus.writer.ingest(update(last: String(index)), receivedAt: 1_764_165_600_000_000, now: now))
        }
        #expect(bus.writer.conflated == 4 && bus.writer.pendingCount == 1)
        #expect(run(loop, until: { jetstream.pump(); return jetstream.published.count == 1 }, seconds: 5))
        run(loop, for: 0.05)
        jetstream.pump()
        #expect(jetstream.published.count == 1)
        #expect(jetstream.published[0].subject == "md.AAPL" && jetstream.published[0].payload.contains("\"last\":5,"))
        #expect(jetstream.published[0].payload.contains("\"seq\":1,"))  // the stream had nothing: from 1
        bus.stop()
    }

    @Test func aWriterThatSeesAnotherWriterAheadContinuesAfterIt() throws {
        let loop = try EventLoop()
        let jetstream = try ScriptedJetStream()
        let (bus, service) = makeBus(jetstream, loop: loop, following: .all)
        connect(bus, jetstream, loop)
        let watcher = Watcher()
        service.registry.subscribe(watcher, to: service.symbolID(for: "AAPL")!, variant: .v2(depth: 1))
        let tick = update(last: "7")
        #expect(bus.writer.ingest(tick, receivedAt: 1_764_165_600_000_000, now: loop.now))
        #expect(run(loop, until: { jetstream.pump(); return watcher.seqs == [1] }))
        // Another instance wrote AAPL up to 10: this writer's next update is 11, not 2.
        jetstream.inject("md.AAPL", busMessage(10))
        #expect(run(loop, until: { jetstream.pump(); return watcher.seqs.last == 10 }))
        #expect(bus.writer.ingest(tick, receivedAt: 1_764_165_600_000_000, now: loop.now))
        #expect(run(loop, until: { jetstream.pump(); return watcher.seqs.last == 11 }))
        #expect(bus.statistics.missedUpdates == 8)  // 2...9 never came this way
        bus.stop()
    }

    /// JetStream not ready at connect (a cluster restarting): the stream is checked again until
    /// it answers, and the snapshots follow, without a reconnect.
    @Test func aStreamUnavailableAtConnectIsCheckedAgain() throws {
        let loop = try EventLoop()
        let jetstream = try ScriptedJetStream()
        jetstream.unavailableStreamChecks = 1
        jetstream.store("md.AAPL", busMessage(7))
        let (bus, service) = makeBus(jetstream, loop: loop)
        var unavailable: [String] = []
        bus.onEvent = { if case .streamUnavailable(let why) = $0 { unavailable.append(why) } }
        bus.start()
        #expect(run(loop, until: { jetstream.pump(); return !unavailable.isEmpty }, seconds: 5))
        #expect(unavailable.first?.contains("temporarily unavailable") == true)
        let watcher = Watcher()
        service.registry.subscribe(watcher, to: service.symbolID(for: "AAPL")!, variant: .v2(depth: 1))
        #expect(run(loop, until: { jetstream.pump(); return watcher.seqs == [7] }, seconds: 5), "the snapshot comes once the stream answers")
        #expect(bus.streamProblem == nil && bus.client.statistics.connects == 1)
        bus.stop()
    }
}
