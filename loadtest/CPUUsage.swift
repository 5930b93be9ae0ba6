import EventLoop
import Glibc

/// CPU time consumed, so a report can show whether the load generator (or the gateway) was
/// the limit.
struct CPUSample {
    let wallNanoseconds: UInt64
    let cpuSeconds: Double

    /// This process, from getrusage.
    static func ownProcess() -> CPUSample {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let seconds = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        return CPUSample(wallNanoseconds: MonotonicClock.now(), cpuSeconds: seconds)
    }

    /// Another process, from /proc/PID/stat (utime + stime); nil when it cannot be read.
    static func process(_ pid: Int32) -> CPUSample? {
        guard let file = fopen("/proc/\(pid)/stat", "r") else { return nil }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 4096)
        guard fgets(&buffer, Int32(buffer.count), file) != nil else { return nil }
        let text = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        // Fields after the parenthesised command name, which may itself hold spaces.
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return CPUSample(wallNanoseconds: MonotonicClock.now(), cpuSeconds: (user + system) / Double(sysconf(Int32(_SC_CLK_TCK))))
    }

    /// Share of one core used between two samples.
    static func utilisation(from start: CPUSample, to end: CPUSample) -> Double {
        let wall = Double(end.wallNanoseconds - start.wallNanoseconds) / 1e9
        return wall > 0 ? (end.cpuSeconds - start.cpuSeconds) / wall : 0
    }
}
