import Flags

extension Gateway {
    /// Reads `--flags-file` again; nil without one. A bad file keeps the flags held (logged).
    @discardableResult
    func reloadFlags(trigger: String) -> Bool? {
        guard let path = configuration.flagsFile else { return nil }
        return FlagsFile.load(path, into: context.flags, trigger: trigger)
    }

    /// A flag went off for everyone: every subscription that has its feature loses it now,
    /// so a kill takes effect on live connections, not only on the next subscribe.
    func featureKilled(_ flag: String) {
        guard let feature = GatedFeature.allCases.first(where: { $0.flag == flag }) else { return }
        var sessions = 0
        for connection in connections.all {
            if let session = connection.session as? MarketSession, session.lose(feature) { sessions += 1 }
        }
        logger.notice("flag killed: live subscriptions lost the feature", metadata: ["flag": "\(flag)", "sessions": "\(sessions)"])
    }
}
