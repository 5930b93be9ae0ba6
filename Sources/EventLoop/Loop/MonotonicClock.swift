import Glibc

/// Nanoseconds on CLOCK_MONOTONIC: for deadlines and durations, never for wall time.
public enum MonotonicClock {
    @inlinable
    public static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}

/// Wall-clock microseconds since the Unix epoch, for timestamps that leave the process.
public enum WallClock {
    @inlinable
    public static func microsecondsSinceEpoch() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1_000
    }
}
