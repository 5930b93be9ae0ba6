import ByteBuffers

/// Which users a percentage selects: the same on every instance, across deploys and
/// reconnects, and independent between flags.
///
/// A user's bucket for a flag is FNV-1a 64 (`StableHash`) of the UTF-8 bytes of
/// `"<flag>:<user>"`, modulo 10,000; the user has a flag at `percent` when the bucket is below
/// `percent × 100`. Widening 5% → 25% keeps the first 5% in. docs/flags.md has a test vector
/// and the same computation in Python.
public enum Cohort {
    public static let buckets: UInt64 = 10_000

    public static func bucket(flag: String, user: String) -> UInt64 {
        StableHash.fnv1a64(flag + ":" + user) % buckets
    }

    public static func isIn(flag: String, user: String, percent: Double) -> Bool {
        Double(bucket(flag: flag, user: user)) < percent * Double(buckets) / 100
    }
}
