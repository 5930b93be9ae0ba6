import Logging

/// What the settings' declarations say to people: `--help`, the table in
/// docs/configuration.md (`--help-markdown` prints it; a test keeps the two the same) and the
/// effective-configuration log line.
public enum SettingsDocumentation {
    public static let abstract = "Tickstream: a real-time WebSocket gateway for market data."

    public static let environmentRule = "Every setting can also be set by an environment variable: GATEWAY_ and the setting's "
        + "name in capitals with underscores (GATEWAY_PORT for --port, GATEWAY_REUSE_PORT=true for --reuse-port). "
        + "A flag on the command line wins over the environment. Switches take true/false, 1/0, yes/no or on/off; "
        + "alone (--echo) they mean on."

    /// `gateway --help`.
    public static func help(width: Int = 100) -> String {
        var text = "OVERVIEW: \(abstract)\n\nUSAGE: gateway [--<setting> <value>] ...\n       gateway --help | --help-markdown | --version\n       gateway flags ... (feature flags: gateway flags --help)\n\n"
        text += wrap(environmentRule, indent: "", width: width)
        for group in Setting.Group.allCases {
            let members = GatewaySettings.all.filter { $0.group == group }
            guard !members.isEmpty else { continue }
            text += "\n\(group.rawValue.uppercased()):\n"
            for setting in members {
                text += "  \(setting.flag) <\(setting.valueName)>\n"
                text += wrap("\(setting.help) (default: \(setting.defaultDescription); \(setting.variable))", indent: "        ", width: width)
            }
        }
        return text
    }

    /// The settings table of docs/configuration.md, one section per group.
    public static func markdown() -> String {
        var text = ""
        for group in Setting.Group.allCases {
            let members = GatewaySettings.all.filter { $0.group == group }
            guard !members.isEmpty else { continue }
            text += "\n### \(group.rawValue)\n\n| flag | environment | value | default | meaning |\n| --- | --- | --- | --- | --- |\n"
            for setting in members {
                let cells = ["`\(setting.flag)`", "`\(setting.variable)`", setting.valueName, setting.defaultDescription, setting.help]
                text += "| " + cells.map { $0.replacingPipes() }.joined(separator: " | ") + " |\n"
            }
        }
        return text
    }

    /// Every setting as it will be used (secrets only as set or unset), for the start-up line.
    public static func effective(_ configuration: GatewayConfiguration) -> Logger.Metadata {
        var values: Logger.Metadata = ["version": "\(BuildInfo.version)"]
        for setting in GatewaySettings.all {
            let value = setting.value(in: configuration)
            let shown = setting.isSwitch ? (value == "on" ? "true" : "false") : (value.isEmpty ? "unset" : value)
            values[String(setting.name.map { $0 == "-" ? "_" : $0 })] = "\(shown)"
        }
        values["sim_rate"] = "\(configuration.effectiveSimulatorRate)"
        return values
    }

    static func wrap(_ text: String, indent: String, width: Int) -> String {
        var lines: [String] = []
        var line = indent
        for word in text.split(separator: " ") {
            if line.count > indent.count && line.count + 1 + word.count > width {
                lines.append(line)
                line = indent
            }
            line += (line.count > indent.count ? " " : "") + word
        }
        lines.append(line)
        return lines.joined(separator: "\n") + "\n"
    }
}

extension String {
    fileprivate func replacingPipes() -> String {
        var result = ""
        for character in self { result += character == "|" ? "\\|" : String(character) }
        return result
    }
}
