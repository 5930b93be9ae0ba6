import Testing
@testable import MarketData

@Suite struct SimulatedMarketTests {
    /// Real books mostly change a few levels per update: nine updates in ten here change one
    /// to three levels' sizes, and the tenth moves the quote a tick and shifts the ladder.
    @Test func mostUpdatesChangeOneToThreeLevels() {
        var store = BookStore()
        var market = SimulatedMarket(symbols: [(0, "A", FixedPoint(100))])
        var previous = market.step(store: &store, timestamp: 0).2
        var changed: [Int] = []
        var quoteMoves = 0
        for t in 1...5000 {
            let state = market.step(store: &store, timestamp: Int64(t)).2
            if state.bid != previous.bid {
                quoteMoves += 1
                #expect(state.levels[0].bidPrice == state.bid && state.levels[0].askPrice == state.ask)
                // Sizes stay with their prices: all but one price on each side keep their size.
                for side in [\BookLevel.bidPrice, \BookLevel.askPrice] {
                    let size = side == \BookLevel.bidPrice ? \BookLevel.bidSize : \BookLevel.askSize
                    let before = Dictionary(uniqueKeysWithValues: previous.levels.map { ($0[keyPath: side], $0[keyPath: size]) })
                    let kept = state.levels.filter { before[$0[keyPath: side]] == $0[keyPath: size] }.count
                    #expect(kept == BookState.maxLevels - 1)
                }
            } else {
                changed.append(zip(state.levels, previous.levels).filter { $0 != $1 }.count)
            }
            previous = state
        }
        #expect((400...600).contains(quoteMoves), "one update in ten moves the quote: \(quoteMoves) of 5000")
        #expect(changed.allSatisfy { $0 <= 3 })
        let unchanged = changed.filter { $0 == 0 }.count
        #expect(unchanged < changed.count / 10, "a size drawn again can equal the old one, rarely: \(unchanged)")
        #expect(changed.count > 4000)
    }
}
