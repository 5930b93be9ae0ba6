import Testing
@testable import MarketData

@Suite struct SimulatedMarketTests {
    /// Real books mostly change a few levels per update: nine updates in ten here change one
    /// to three levels' sizes, and the tenth moves the quote and re-prices the ladder.
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
