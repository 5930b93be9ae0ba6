/// The features that ship dark behind a flag of the same name: a client asks for them, and
/// gets them only when the flag is on for it (the `subscribed` reply says what it got).
enum GatedFeature: Int, CaseIterable {
    /// `"delta":true` on a v2 subscribe.
    case deltaUpdates
    /// `"max_rate":N` on a v2 subscribe.
    case rateCaps

    var flag: String {
        switch self {
        case .deltaUpdates: "delta-updates"
        case .rateCaps: "rate-caps"
        }
    }

    /// A session's cohort bits for this feature: it asked and got it (`onBit`), or asked and
    /// did not (`offBit`, the control group). A session that never asked is in neither, so a
    /// flag's cohort is compared with users who wanted the feature too, not with everyone.
    var onBit: UInt8 { 1 << UInt8(2 * rawValue) }
    var offBit: UInt8 { 1 << UInt8(2 * rawValue + 1) }
}
