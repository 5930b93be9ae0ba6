import ByteBuffers
import Testing
@testable import MarketData

/// Capped subscriptions sit in groups per symbol, variant and rate: updates only mark them,
/// and a tick of the rate sends each changed group the newest state, encoded once.
@Suite struct RateCapTests {
    private func service(symbols: Int = 4) -> (MarketDataService, SimulatedMarket) {
        let service = MarketDataService(maxSubscriptions: 10, maxSymbols: 100)
        let market = service.simulatedMarket(symbols: SimulatedMarket.generatedSymbols(count: symbols))
        return (service, market)
    }

    @Test func aTickSendsTheNewestStateOnceToEveryCappedMember() {
        var (service, market) = service()
        let capped = (0..<50).map { _ in RecordingSubscriber() }
        let uncapped = RecordingSubscriber()
        for s in capped { service.registry.subscribe(s, to: 0, variant: .v2(depth: 5), maxRate: 4) }
        service.registry.subscribe(uncapped, to: 0, variant: .v2(depth: 5))
        // 40 updates of symbol 0 (the simulator steps round-robin over 4 symbols).
        for t in 1...160 { service.stepSimulator(&market, timestamp: Int64(t)) }
        #expect(capped.allSatisfy { $0.frames.isEmpty })
        #expect(uncapped.frames.count == 40)
        let encodings = service.fanOut.encodings
        service.publishCapped(perSecond: 4)
        #expect(service.fanOut.encodings == encodings + 1)
        #expect(capped.allSatisfy { $0.frames.count == 1 && $0.frames[0].1 === capped[0].frames[0].1 })
        // The newest state: the same bytes as the uncapped subscriber's last update.
        #expect(capped[0].frames[0].1.withBytes { Array($0) } == uncapped.frames.last!.1.withBytes { Array($0) })
        // 39 updates held back and replaced, for each of the 50.
        #expect(service.registry.cappedUpdatesReplaced == 39 * 50)
        // Nothing changed since: the next tick sends nothing; another rate's tick neither.
        service.publishCapped(perSecond: 4)
        service.publishCapped(perSecond: 5)
        #expect(capped[0].frames.count == 1)
    }

    @Test func deltaSubscriptionsWithACapGetWholeStates() {
        var (service, market) = service(symbols: 1)
        let s = RecordingSubscriber()
        service.registry.subscribe(s, to: 0, variant: .v2(depth: 10, delta: true), maxRate: 2)
        for t in 1...5 { service.stepSimulator(&market, timestamp: Int64(t)) }
        service.publishCapped(perSecond: 2)
        let text = s.frames[0].1.withBytes { String(decoding: $0.dropFirst(4), as: UTF8.self) }
        #expect(text.contains(#""depth":[["#) && text.contains(#""seq":5,"#))
        #expect(service.fanOut.deltaEncodings == 0)
    }

    @Test func membershipFollowsCapChangesAndRemovals() {
        let registry = SubscriptionRegistry()
        let members = (0..<5).map { _ in RecordingSubscriber() }
        for s in members { registry.subscribe(s, to: 3, variant: .v2(depth: 1), maxRate: 4) }
        #expect(registry.cappedSubscriptions == [4: 5] && registry.totalSubscriptions == 5)
        #expect(registry.maxRate(of: members[2], symbol: 3) == 4)
        // The same again is nothing; another rate moves it; no rate makes it uncapped.
        #expect(!registry.subscribe(members[0], to: 3, variant: .v2(depth: 1), maxRate: 4))
        #expect(registry.subscribe(members[0], to: 3, variant: .v2(depth: 1), maxRate: 10))
        #expect(registry.subscribe(members[1], to: 3, variant: .v2(depth: 1)))
        #expect(registry.cappedSubscriptions == [4: 3, 10: 1] && registry.totalSubscriptions == 5)
        #expect(registry.maxRate(of: members[1], symbol: 3) == nil)
        // Swap-removal keeps everyone else findable.
        registry.unsubscribe(members[2], from: 3)
        #expect(registry.maxRate(of: members[3], symbol: 3) == 4 && registry.maxRate(of: members[4], symbol: 3) == 4)
        registry.noteUpdate(3)
        var got: [Int] = []
        registry.takeChanged(perSecond: 4) { symbol, variant, group in
            #expect(symbol == 3 && variant == .v2(depth: 1))
            got.append(group.count)
        }
        #expect(got == [2])
        for s in members { registry.unsubscribeAll(s) }
        #expect(registry.cappedSubscriptions.isEmpty && registry.totalSubscriptions == 0)
    }
}
