/// A feature flag: a kill switch, users who always have it, and a share of everyone else
/// chosen by a stable hash of (flag, user). A flag nobody defined is off.
public struct FeatureFlag: Equatable, Sendable {
    public let name: String
    /// Off: nobody has it, whatever the rest says (the kill switch).
    public var enabled: Bool
    /// Users who have it while it is enabled, at any percentage.
    public var allow: Set<String>
    /// Share of users who have it, 0...100, in steps of 0.01 (`Cohort.buckets`).
    public var percent: Double
    /// Who or what set it last, and why: logged with every change.
    public var by: String?
    public var reason: String?

    public init(name: String, enabled: Bool, allow: Set<String> = [], percent: Double = 0, by: String? = nil, reason: String? = nil) {
        self.name = name
        self.enabled = enabled
        self.allow = allow
        self.percent = percent
        self.by = by
        self.reason = reason
    }

    /// Whether `user` has it.
    public func isOn(for user: String) -> Bool {
        guard enabled else { return false }
        return allow.contains(user) || Cohort.isIn(flag: name, user: user, percent: percent)
    }

    /// Whether it is off for everyone: live subscriptions that had it must lose it.
    public var isKilled: Bool { !enabled || (percent == 0 && allow.isEmpty) }

    /// `[a-z0-9][a-z0-9_-]{0,63}`: a NATS key-value key and a Prometheus label value as it is.
    public static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...64).contains(bytes.count) else { return false }
        return bytes.enumerated().allSatisfy { index, byte in
            (byte >= 97 && byte <= 122) || (byte >= 48 && byte <= 57) || (index > 0 && (byte == 95 || byte == 45))
        }
    }
}
