import Glibc

/// Builds a configuration from the command line and `GATEWAY_*` variables: a variable sets
/// its setting's default, a flag on the command line wins, and the result is validated. Every
/// error names where the bad value came from: the flag, or the variable and its value.
public struct SettingsParser {
    /// Where a setting's value came from.
    public enum Source: Equatable, Sendable {
        case commandLine
        case environment(variable: String, value: String)
    }

    public private(set) var configuration = GatewayConfiguration()
    /// The source of every setting given a value.
    public private(set) var sources: [String: Source] = [:]

    /// Parses and validates; throws a message ready for the user.
    public init(commandLine: [String], environment: [String: String]) throws(SettingError) {
        let settings = GatewaySettings.all
        var byName: [String: Setting] = [:]
        var byVariable: [String: Setting] = [:]
        for setting in settings {
            byName[setting.name] = setting
            byVariable[setting.variable] = setting
        }
        var given: [String: String] = [:]
        for (variable, value) in environment.sorted(by: { $0.key < $1.key }) where variable.hasPrefix(Setting.environmentPrefix) {
            if Self.isServiceLink(name: variable, value: value) {
                throw SettingError(setting: nil, "in the environment, \(variable)=\(value): this is a Kubernetes service link, not a gateway setting: "
                    + "a Service named \"gateway\" in the namespace injects GATEWAY_* variables into every pod. "
                    + "Set enableServiceLinks: false in the pod spec (deploy/kubernetes does) or rename the Service.")
            }
            guard let setting = byVariable[variable] else {
                throw SettingError(setting: nil, "in the environment, \(variable)=\(value): no such setting (gateway --help lists them)")
            }
            // An empty switch variable is the common way to leave it off.
            given[setting.name] = setting.isSwitch && value.isEmpty ? "false" : value
            sources[setting.name] = .environment(variable: variable, value: value)
        }
        var index = 0
        while index < commandLine.count {
            let argument = commandLine[index]
            index += 1
            guard argument.hasPrefix("--") else {
                throw SettingError(setting: nil, "unexpected argument \(argument): settings are --name value or --name=value")
            }
            let body = argument.dropFirst(2)
            let name = String(body.prefix(while: { $0 != "=" }))
            guard let setting = byName[name] else { throw SettingError(setting: nil, "unknown option --\(name) (gateway --help lists them)") }
            let value: String
            if let equals = body.firstIndex(of: "=") {
                value = String(body[body.index(after: equals)...])
            } else if setting.isSwitch {
                // `--echo` alone is on; `--deflate off` and `--reuse-port yes` take the word after.
                if index < commandLine.count, Setting.parseSwitch(commandLine[index]) != nil {
                    value = commandLine[index]
                    index += 1
                } else {
                    value = "true"
                }
            } else {
                guard index < commandLine.count else { throw SettingError(setting: name, "--\(name) needs a value (\(setting.valueName))") }
                value = commandLine[index]
                index += 1
            }
            given[name] = value
            sources[name] = .commandLine
        }
        for setting in settings {
            guard let value = given[setting.name] else { continue }
            do {
                try setting.apply(value, to: &configuration)
            } catch {
                throw attributed(error)
            }
        }
        do {
            try configuration.validate()
        } catch {
            throw attributed(error)
        }
    }

    /// `error` with the variable and its value named when the setting at fault came from the
    /// environment. A reason without a setting that starts with a flag (`--tls-cert ...`, from
    /// reading a file at start) is put on that flag.
    public func attributed(_ error: SettingError) -> SettingError {
        let flag = error.reason.prefix(while: { $0 != " " && $0 != ":" })
        guard let name = error.setting ?? (flag.hasPrefix("--") ? String(flag.dropFirst(2)) : nil),
              case .environment(let variable, let value)? = sources[name] else { return error }
        let shown = GatewaySettings.named(name)?.isSecret == true ? "(secret)" : value
        return SettingError(setting: name, "in the environment, \(variable)=\(shown): \(error.reason)")
    }

    /// Whether `name=value` is what Kubernetes injects for a Service called "gateway" in the
    /// namespace (`GATEWAY_PORT=tcp://10.0.0.7:80`, `GATEWAY_SERVICE_HOST`,
    /// `GATEWAY_PORT_80_TCP_ADDR`...), not a setting of ours.
    static func isServiceLink(name: String, value: String) -> Bool {
        let prefix = Setting.environmentPrefix
        if name == prefix + "PORT" {
            return ["tcp://", "udp://", "sctp://"].contains { value.lowercased().hasPrefix($0) }
        }
        if name.hasPrefix(prefix + "SERVICE_HOST") || name.hasPrefix(prefix + "SERVICE_PORT") { return true }
        // GATEWAY_PORT_<number>_<TCP|UDP|SCTP>[_PROTO|_PORT|_ADDR]
        let parts = name.dropFirst(prefix.count).split(separator: "_")
        return parts.count >= 3 && parts[0] == "PORT" && parts[1].allSatisfy(\.isNumber) && ["TCP", "UDP", "SCTP"].contains(parts[2])
    }
}

extension SettingsParser {
    /// The process environment as a dictionary.
    public static func processEnvironment() -> [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        return result
    }
}
