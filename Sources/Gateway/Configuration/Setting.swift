/// One setting of the gateway, declared once in `GatewaySettings.all`: its flag, environment
/// variable, value syntax, range and help come from here, and so do the command line, the
/// `GATEWAY_*` parser, the range checks of `GatewayConfiguration.validate()`, the start-up log
/// line and the settings table in docs/configuration.md. Defaults live in
/// `GatewayConfiguration`'s initial values and are read from there.
public struct Setting {
    /// Where a setting appears in `--help` and the docs.
    public enum Group: String, CaseIterable, Sendable {
        case listener = "Listener"
        case tls = "TLS"
        case authentication = "Authentication (/ws)"
        case limits = "Limits"
        case liveness = "Liveness"
        case compression = "Compression"
        case market = "Market data"
        case bus = "Bus (a fleet fed through NATS)"
        case flags = "Feature flags"
        case operations = "Health and draining"
        case deploy = "Deploy"
        case logging = "Logging"
    }

    /// The flag without its dashes: `max-queue-bytes`.
    public let name: String
    public let group: Group
    /// What the value looks like in help: `seconds`, `bytes`, `on|off`.
    public let valueName: String
    public let help: String
    /// A switch: `--echo` alone turns it on; it also takes true/false, 1/0, yes/no, on/off.
    public let isSwitch: Bool
    /// Never shown: the log and the docs say only whether it is set.
    public let isSecret: Bool
    /// The default as the docs state it, where the value alone would not say it.
    let defaultText: String?
    let apply: (inout GatewayConfiguration, String) throws(SettingError) -> Void
    /// The current value as the flag would take it; "" when unset.
    let show: (GatewayConfiguration) -> String
    /// A reason the current value is out of range, or nil.
    let check: (GatewayConfiguration) -> String?

    public var flag: String { "--" + name }
    /// `GATEWAY_MAX_QUEUE_BYTES` for `max-queue-bytes`.
    public var variable: String { Setting.environmentPrefix + String(name.uppercased().map { $0 == "-" ? "_" : $0 }) }
    public static let environmentPrefix = "GATEWAY_"

    /// Sets this setting from its text (a flag's value or a variable's).
    public func apply(_ text: String, to configuration: inout GatewayConfiguration) throws(SettingError) {
        try apply(&configuration, text)
    }

    /// The value in `configuration` as text: what the log line and the docs show.
    public func value(in configuration: GatewayConfiguration) -> String {
        let text = show(configuration)
        if isSecret { return text.isEmpty ? "unset" : "set" }
        return text
    }

    /// The default as the docs table and `--help` state it.
    public var defaultDescription: String {
        if let defaultText { return defaultText }
        let text = value(in: GatewayConfiguration())
        return text.isEmpty ? "unset" : text
    }

    /// Why the value in `configuration` is out of range, or nil.
    public func problem(in configuration: GatewayConfiguration) -> String? { check(configuration) }
}

/// A value that does not fit its setting, named by the flag.
public struct SettingError: Error, CustomStringConvertible, Equatable {
    /// The setting at fault (`port`), when one is.
    public let setting: String?
    public let reason: String
    public init(setting: String?, _ reason: String) {
        self.setting = setting
        self.reason = reason
    }
    public var description: String { reason }
}
