/// The kinds of value a setting takes, each with its syntax and range check written once.
extension Setting {
    static let trueWords: Set<String> = ["1", "true", "yes", "on"]
    static let falseWords: Set<String> = ["0", "false", "no", "off"]

    /// true/false, 1/0, yes/no, on/off (any case); nil for anything else.
    public static func parseSwitch(_ text: String) -> Bool? {
        let lowered = text.lowercased()
        if trueWords.contains(lowered) { return true }
        if falseWords.contains(lowered) { return false }
        return nil
    }

    /// Shows seconds without a needless ".0": `20`, `0.25`.
    static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() && abs(seconds) < 1e15 ? String(Int(seconds)) : String(seconds)
    }

    static func rangeText(_ range: ClosedRange<Double>) -> String { "\(format(range.lowerBound))...\(format(range.upperBound))" }

    static func toggle(_ name: String, _ group: Group, _ keyPath: WritableKeyPath<GatewayConfiguration, Bool>, help: String) -> Setting {
        Setting(name: name, group: group, valueName: "on|off", help: help, isSwitch: true, isSecret: false, defaultText: nil,
                apply: { configuration, text throws(SettingError) in
                    guard let value = parseSwitch(text) else {
                        throw SettingError(setting: name, "--\(name) takes true or false (1/0, yes/no, on/off), got \(text)")
                    }
                    configuration[keyPath: keyPath] = value
                },
                show: { $0[keyPath: keyPath] ? "on" : "off" },
                check: { _ in nil })
    }

    /// A whole number in `range`; `zeroMeans` documents 0 as "off" (stored as nil when the
    /// property is optional).
    static func integer(_ name: String, _ group: Group, _ keyPath: WritableKeyPath<GatewayConfiguration, Int>,
                        range: ClosedRange<Int>, unit: String = "n", zeroMeans: String? = nil, help: String) -> Setting {
        integer(name, group, get: { $0[keyPath: keyPath] }, set: { $0[keyPath: keyPath] = $1 },
                range: range, unit: unit, zeroMeans: zeroMeans, defaultText: nil, help: help)
    }

    /// An optional whole number: with `zeroMeans`, 0 stores nil ("no limit"); without it,
    /// unset keeps nil and `defaultText` says what nil means.
    static func integer(_ name: String, _ group: Group, _ keyPath: WritableKeyPath<GatewayConfiguration, Int?>,
                        range: ClosedRange<Int>, unit: String = "n", zeroMeans: String? = nil, defaultText: String? = nil,
                        help: String) -> Setting {
        let zeroIsNil = zeroMeans != nil
        return integer(name, group, get: { $0[keyPath: keyPath] ?? (zeroIsNil ? 0 : nil) },
                       set: { $0[keyPath: keyPath] = zeroIsNil && $1 == 0 ? nil : $1 },
                       range: range, unit: unit, zeroMeans: zeroMeans, defaultText: defaultText, help: help)
    }

    static func integer(_ name: String, _ group: Group, get: @escaping (GatewayConfiguration) -> Int?,
                        set: @escaping (inout GatewayConfiguration, Int) -> Void, range: ClosedRange<Int>, unit: String,
                        zeroMeans: String?, defaultText: String?, help: String) -> Setting {
        let note = zeroMeans.map { " (0: \($0))" } ?? ""
        return Setting(name: name, group: group, valueName: unit, help: help + (zeroMeans.map { " 0: \($0)." } ?? ""),
                       isSwitch: false, isSecret: false, defaultText: defaultText,
                       apply: { configuration, text throws(SettingError) in
                           guard let value = Int(text) else {
                               throw SettingError(setting: name, "--\(name) must be a whole number \(range.lowerBound)...\(range.upperBound)\(note), got \(text)")
                           }
                           set(&configuration, value)
                       },
                       show: { get($0).map(String.init) ?? "" },
                       check: { configuration in
                           guard let value = get(configuration), !range.contains(value) else { return nil }
                           return "--\(name) must be \(range.lowerBound)...\(range.upperBound)\(note), got \(value)"
                       })
    }

    static func seconds(_ name: String, _ group: Group, _ keyPath: WritableKeyPath<GatewayConfiguration, Double>,
                        range: ClosedRange<Double>, unit: String = "seconds", zeroMeans: String? = nil, help: String) -> Setting {
        let note = zeroMeans.map { " (0: \($0))" } ?? ""
        return Setting(name: name, group: group, valueName: unit, help: help + (zeroMeans.map { " 0: \($0)." } ?? ""),
                       isSwitch: false, isSecret: false, defaultText: nil,
                       apply: { configuration, text throws(SettingError) in
                           guard let value = Double(text), value.isFinite else {
                               throw SettingError(setting: name, "--\(name) must be a number of \(unit) \(rangeText(range))\(note), got \(text)")
                           }
                           configuration[keyPath: keyPath] = value
                       },
                       show: { format($0[keyPath: keyPath]) },
                       check: { configuration in
                           let value = configuration[keyPath: keyPath]
                           guard !range.contains(value) else { return nil }
                           return "--\(name) must be \(rangeText(range)) \(unit)\(note), got \(format(value))"
                       })
    }

    /// Free text; `valid` returns why a value is refused.
    static func text(_ name: String, _ group: Group, _ keyPath: WritableKeyPath<GatewayConfiguration, String>, valueName: String,
                     valid: @escaping (String) -> String? = { _ in nil }, help: String) -> Setting {
        Setting(name: name, group: group, valueName: valueName, help: help, isSwitch: false, isSecret: false, defaultText: nil,
                apply: { configuration, text throws(SettingError) in configuration[keyPath: keyPath] = text },
                show: { $0[keyPath: keyPath] },
                check: { configuration in valid(configuration[keyPath: keyPath]).map { "--\(name) \($0)" } })
    }

    /// Optional text: unset is nil. A secret is redacted from the log and never checked into
    /// its error messages.
    static func text(_ name: String, _ group: Group, _ keyPath: WritableKeyPath<GatewayConfiguration, String?>, valueName: String,
                     secret: Bool = false, valid: @escaping (String) -> String? = { _ in nil }, help: String) -> Setting {
        Setting(name: name, group: group, valueName: valueName, help: help, isSwitch: false, isSecret: secret, defaultText: nil,
                apply: { configuration, text throws(SettingError) in configuration[keyPath: keyPath] = text },
                show: { $0[keyPath: keyPath] ?? "" },
                check: { configuration in configuration[keyPath: keyPath].flatMap(valid).map { "--\(name) \($0)" } })
    }

    /// One of an enumeration's raw values.
    static func choice<Value: RawRepresentable & CaseIterable>(
        _ name: String, _ group: Group, _ keyPath: WritableKeyPath<GatewayConfiguration, Value>, help: String
    ) -> Setting where Value.RawValue == String {
        let names = Value.allCases.map(\.rawValue)
        return Setting(name: name, group: group, valueName: names.joined(separator: "|"), help: help, isSwitch: false,
                       isSecret: false, defaultText: nil,
                       apply: { configuration, text throws(SettingError) in
                           guard let value = Value(rawValue: text) ?? Value(rawValue: text.lowercased()) else {
                               throw SettingError(setting: name, "--\(name) must be one of \(names.joined(separator: ", ")), got \(text)")
                           }
                           configuration[keyPath: keyPath] = value
                       },
                       show: { $0[keyPath: keyPath].rawValue },
                       check: { _ in nil })
    }

    /// Anything else: its own parse, display and check.
    static func custom(_ name: String, _ group: Group, valueName: String, defaultText: String? = nil, secret: Bool = false,
                       help: String, apply: @escaping (inout GatewayConfiguration, String) throws(SettingError) -> Void,
                       show: @escaping (GatewayConfiguration) -> String,
                       check: @escaping (GatewayConfiguration) -> String? = { _ in nil }) -> Setting {
        Setting(name: name, group: group, valueName: valueName, help: help, isSwitch: false, isSecret: secret,
                defaultText: defaultText, apply: apply, show: show, check: check)
    }
}
