import EventLoop

/// The old version's memory of itself: a reading every second for the last five minutes, so
/// that when a watched deploy begins, its baseline is its own recent past, not a figure
/// written in a config file.
final class FiguresRecorder {
    private let loop: EventLoop
    private let read: () -> DeployFigures
    private var readings: [(at: UInt64, figures: DeployFigures)] = []
    private var timer: Timer?
    static let kept = 301
    private static let interval: UInt64 = 1_000_000_000

    init(loop: EventLoop, read: @escaping () -> DeployFigures) {
        self.loop = loop
        self.read = read
    }

    func start() {
        record()
        timer = loop.scheduleRepeating(every: Self.interval) { [unowned self] in self.record() }
    }

    func stop() {
        timer?.cancel()
        timer = nil
    }

    private func record() {
        if readings.count == Self.kept { readings.removeFirst() }
        readings.append((loop.now, read()))
    }

    /// The window from `seconds` ago (or the oldest reading, if the process is younger) to now.
    func baseline(seconds: Double) -> (window: DeployWindow, seconds: Double) {
        let now = loop.now
        let current = read()
        let horizon = now &- UInt64(seconds * 1e9)
        let start = readings.first { $0.at >= horizon } ?? readings.last ?? (now, current)
        return (current.since(start.figures), Double(now &- start.at) / 1e9)
    }
}
