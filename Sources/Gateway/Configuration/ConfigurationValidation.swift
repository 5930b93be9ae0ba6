import Glibc
import MarketData

extension GatewayConfiguration {
    /// Checks every setting's range and the rules between settings. `Gateway.init` calls it, so
    /// a configuration built in code is held to the same rules as one from flags.
    public func validate() throws(SettingError) {
        for setting in GatewaySettings.all {
            if let problem = setting.problem(in: self) { throw SettingError(setting: setting.name, problem) }
        }
        func refuse(_ setting: String, _ reason: String) throws(SettingError) { throw SettingError(setting: setting, reason) }
        if (tlsCertificatePath == nil) != (tlsKeyPath == nil) {
            try refuse(tlsCertificatePath == nil ? "tls-key" : "tls-cert", "--tls-cert and --tls-key go together: give both for TLS, or neither")
        }
        if tlsKeyPasswordPath != nil && tlsKeyPath == nil { try refuse("tls-key-password-file", "--tls-key-password-file needs --tls-key") }
        if idleTimeout > 0 && pingInterval > 0 && idleTimeout <= pingInterval {
            try refuse("idle-timeout", "--idle-timeout (\(Setting.format(idleTimeout))) must be longer than --ping-interval (\(Setting.format(pingInterval))), or a client is closed before it could answer a ping")
        }
        if let adminPort, adminPort != 0, adminPort == port { try refuse("admin-port", "--admin-port must differ from --port") }
        let simulated = simulatorSymbols.isEmpty ? SimulatedMarket.defaultSymbols.count : simulatorSymbols.count
        if effectiveSimulatorRate > 0 && simulated > maxSymbols {
            try refuse("max-symbols", "the simulator needs \(simulated) symbols, more than --max-symbols \(maxSymbols)")
        }
        if (busOptions.certificatePath == nil) != (busOptions.keyPath == nil) {
            try refuse(busOptions.certificatePath == nil ? "bus-key" : "bus-cert", "--bus-cert and --bus-key go together")
        }
        if let bus {
            if simulatorTarget == .local, let rate = simulatorRate, rate > 0 {
                try refuse("sim-rate", "with --bus every update comes through the bus: publish simulated data into it with --sim-target bus (on one instance), or drop --sim-rate")
            }
            _ = try BusSecurity.prepared(bus)
        } else {
            if busOptions.token != nil { try refuse("bus-token", "--bus-token needs --bus") }
            for (name, value) in [("bus-creds", busOptions.credentialsPath), ("bus-ca", busOptions.caPath), ("bus-cert", busOptions.certificatePath)] where value != nil {
                try refuse(name, "--\(name) needs --bus")
            }
            if simulatorTarget == .bus { try refuse("sim-target", "--sim-target bus needs --bus (the NATS servers to publish into)") }
        }
        if drainTimeout < drainGrace + drainDuration {
            try refuse("drain-timeout", "--drain-timeout (\(Setting.format(drainTimeout))) must be at least --drain-grace + --drain-duration (\(Setting.format(drainGrace + drainDuration)))")
        }
        if requireFeed && publisherToken == nil && bus == nil {
            try refuse("require-feed", "--require-feed needs --publisher-token or --bus (where the feed comes in)")
        }
        if watch > 0 && handover != .connections {
            try refuse("watch", "--watch needs --takeover and --handover connections (the standby takes the connections back the way they came)")
        }
        if handover == .connections && takeover == nil {
            try refuse("handover", "--handover connections needs --takeover (the running instance to take them from)")
        }
        if flagsFile != nil && bus != nil {
            try refuse("flags-file", "with --bus the fleet's flags are in its key-value bucket (--flags-bucket): set them with `gateway flags set`, not a file")
        }
        if let flagsFile, access(flagsFile, R_OK) != 0 {
            try refuse("flags-file", "--flags-file \(flagsFile) cannot be read")
        }
    }
}
