import Foundation
import Testing
@testable import loadtest

@Suite struct SVGReportTests {
    @Test func axesUseRoundTicks() {
        #expect(SVGReport.niceScale(412_345) == .init(top: 500_000, step: 100_000))
        #expect(SVGReport.niceScale(13.2) == .init(top: 15, step: 5))
        #expect(SVGReport.niceScale(1.07) == .init(top: 1.25, step: 0.25))
        #expect(SVGReport.niceScale(0.9) == .init(top: 1, step: 0.2))
        #expect(SVGReport.niceScale(400_031).ticks == [0, 100_000, 200_000, 300_000, 400_000, 500_000])
        for maximum in [0.003, 0.7, 3, 9.99, 42, 999, 123_456, 7_654_321] {
            let scale = SVGReport.niceScale(maximum)
            #expect(scale.top >= maximum && scale.ticks.count <= 6, "\(maximum)")
        }
    }

    @Test func labelsAreAsPreciseAsTheStep() {
        let rate = SVGReport.niceScale(412_345)
        #expect(rate.ticks.map { SVGReport.formatRate($0, scale: rate) } == ["0k", "100k", "200k", "300k", "400k", "500k"])
        let small = SVGReport.niceScale(1.07)
        #expect(small.ticks.map { SVGReport.formatDecimal($0, step: small.step) } == ["0.00", "0.25", "0.50", "0.75", "1.00", "1.25"])
    }

    @Test func theRatePanelStatesTheRateAndSpansTheRun() throws {
        let path = "/tmp/tickstream-report-test-\(getpid()).svg"
        let points = (1...13).map { (t: Double($0), rate: $0 > 3 ? 400_000.0 : 100_000.0) }
        try SVGReport.write(.init(title: "t", perSecond: points, latency: .init(highestTrackableValue: 1_000_000, numberOfSignificantValueDigits: .three)), to: path)
        let svg = try String(contentsOfFile: path, encoding: .utf8)
        #expect(svg.contains("median 400,000/s · peak 400,000/s over 13 s"))
        #expect(svg.contains(">15</text>"))  // the time axis reaches past the run's 13 s on a round tick
    }

    /// Regression: a run at a steady round rate (400k) drew its line on the chart's top border,
    /// because the axis ended at the peak.
    @Test func aSteadyRateIsDrawnBelowTheTopOfItsAxis() throws {
        let path = "/tmp/tickstream-report-flat-\(getpid()).svg"
        let points = (1...10).map { (t: Double($0), rate: 400_000.0) }
        try SVGReport.write(.init(title: "t", perSecond: points, latency: .init(highestTrackableValue: 1_000_000, numberOfSignificantValueDigits: .three)), to: path)
        let svg = try String(contentsOfFile: path, encoding: .utf8)
        #expect(svg.contains(">500k</text>"), "the axis goes past the peak to the next round tick")
    }
}
