/// FNV-1a, 64 bits: a hash that is the same on every machine, process and build (Swift's
/// `Hasher` is seeded per process). Used where instances must agree without talking: a market
/// epoch derived from a stream's identity, a user's cohort for a feature flag.
public enum StableHash {
    public static func fnv1a64(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash
    }
}
