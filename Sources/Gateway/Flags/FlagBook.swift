import Flags
import Logging

/// The feature flags this instance goes by, from its one source (a flags file, or the fleet's
/// key-value bucket), with every change logged: which flag, what it became, who set it and
/// why. A bad value is refused with a log line and the flags held before stay.
final class FlagBook {
    private(set) var flags: [String: FeatureFlag] = [:]
    private(set) var changesApplied: UInt64 = 0
    private(set) var changesRefused: UInt64 = 0
    /// A flag went off for everyone: subscriptions that had its feature must lose it now.
    var onKill: ((String) -> Void)?
    private let logger: Logger

    init(logger: Logger) {
        self.logger = logger
    }

    func isOn(_ feature: GatedFeature, for user: String) -> Bool {
        flags[feature.flag]?.isOn(for: user) ?? false
    }

    /// A whole new set (a flags file read again): each flag that differs is a change.
    func replaceAll(_ new: [String: FeatureFlag], trigger: String) {
        for name in Set(flags.keys).union(new.keys).sorted() where flags[name] != new[name] {
            if let flag = new[name] { set(flag, trigger: trigger) } else { remove(name, trigger: trigger) }
        }
    }

    func set(_ flag: FeatureFlag, trigger: String) {
        let before = flags[flag.name]
        guard before != flag else { return }
        flags[flag.name] = flag
        changesApplied &+= 1
        logger.notice("flag changed", metadata: [
            "flag": "\(flag.name)", "enabled": "\(flag.enabled)", "percent": "\(FlagCodec.format(flag.percent))",
            "allowlisted": "\(flag.allow.count)", "by": "\(flag.by ?? "unknown")", "reason": "\(flag.reason ?? "")",
            "before": "\(before.map(FlagCodec.encode) ?? "undefined (off)")", "trigger": "\(trigger)"])
        if flag.isKilled && !(before?.isKilled ?? true) { onKill?(flag.name) }
    }

    func remove(_ name: String, trigger: String) {
        guard let before = flags.removeValue(forKey: name) else { return }
        changesApplied &+= 1
        logger.notice("flag removed: off for everyone", metadata: ["flag": "\(name)", "trigger": "\(trigger)"])
        if !before.isKilled { onKill?(name) }
    }

    func refuse(_ error: FlagError, trigger: String) {
        changesRefused &+= 1
        logger.error("flag value refused; the flags held before stay", metadata: ["error": "\(error)", "trigger": "\(trigger)"])
    }
}
