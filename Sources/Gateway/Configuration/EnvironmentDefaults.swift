import Glibc

/// Turns GATEWAY_* environment variables into command-line arguments placed before the real
/// ones, so the command line wins (the parser keeps the last value of an option).
public enum EnvironmentDefaults {
    public static let prefix = "GATEWAY_"

    /// The process environment as a dictionary.
    public static func current() -> [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(decoding: UnsafeRawBufferPointer(start: entry, count: strlen(entry)), as: UTF8.self)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        return result
    }

    /// A variable whose value cannot mean anything for its option.
    public struct InvalidVariable: Error, CustomStringConvertible {
        public let name: String
        public let value: String
        public let expected: String
        /// Set when the variable is not ours at all (a Kubernetes service link).
        public var cause: String?
        public var description: String { cause.map { "\(name)=\(value): \($0)" } ?? "\(name)=\(value): expected \(expected)" }
    }

    /// Whether `name=value` is what Kubernetes injects for a Service called "gateway" in the
    /// namespace (`GATEWAY_PORT=tcp://10.0.0.7:80`, `GATEWAY_SERVICE_HOST`,
    /// `GATEWAY_PORT_80_TCP_ADDR`...), not a setting of ours.
    static func isServiceLink(name: String, value: String) -> Bool {
        if name == prefix + "PORT" {
            return ["tcp://", "udp://", "sctp://"].contains { value.lowercased().hasPrefix($0) }
        }
        if name.hasPrefix(prefix + "SERVICE_HOST") || name.hasPrefix(prefix + "SERVICE_PORT") { return true }
        // GATEWAY_PORT_<number>_<TCP|UDP|SCTP>[_PROTO|_PORT|_ADDR]
        let parts = name.dropFirst(prefix.count).split(separator: "_")
        return parts.count >= 3 && parts[0] == "PORT" && parts[1].allSatisfy(\.isNumber) && ["TCP", "UDP", "SCTP"].contains(parts[2])
    }

    private static let on: Set<String> = ["1", "true", "yes", "on"]
    private static let off: Set<String> = ["0", "false", "no", "off", ""]

    /// `flags` are the options without a value: true/1/yes/on turns them on, false/0/no/off
    /// leaves them off, anything else is refused (never silently taken as off).
    public static func arguments(commandLine: [String], environment: [String: String], flags: Set<String>) throws -> [String] {
        var injected: [String] = []
        for (key, value) in environment.sorted(by: { $0.key < $1.key }) where key.hasPrefix(prefix) {
            if isServiceLink(name: key, value: value) {
                var invalid = InvalidVariable(name: key, value: value, expected: "")
                invalid.cause = "this is a Kubernetes service link, not a gateway setting: a Service named \"gateway\" in the namespace "
                    + "injects GATEWAY_* variables into every pod. Set enableServiceLinks: false in the pod spec (deploy/kubernetes does) "
                    + "or rename the Service."
                throw invalid
            }
            let name = optionName(key)
            let explicitlyGiven = commandLine.contains { $0 == "--\(name)" || $0.hasPrefix("--\(name)=") }
            if explicitlyGiven { continue }
            if flags.contains(name) {
                let lowered = value.lowercased()
                if on.contains(lowered) {
                    injected.append("--\(name)")
                } else if !off.contains(lowered) {
                    throw InvalidVariable(name: key, value: value, expected: "true or false (1/0, yes/no, on/off)")
                }
            } else {
                injected.append("--\(name)=\(value)")
            }
        }
        return injected + commandLine
    }

    /// When the full arguments do not parse: the first GATEWAY_* variable that alone, with
    /// the command line, fails to parse, so the error can name where the bad value came from.
    /// Nil when the command line alone fails or no single variable is at fault.
    public static func culprit(commandLine: [String], environment: [String: String], flags: Set<String>,
                               parses: ([String]) -> Bool) -> (name: String, value: String)? {
        guard parses(commandLine) else { return nil }
        for (key, value) in environment.sorted(by: { $0.key < $1.key }) where key.hasPrefix(prefix) {
            guard let arguments = try? arguments(commandLine: commandLine, environment: [key: value], flags: flags) else {
                return (key, value)
            }
            if !parses(arguments) { return (key, value) }
        }
        return nil
    }

    /// `GATEWAY_SIM_RATE` -> `sim-rate`.
    static func optionName(_ variable: String) -> String {
        variable.dropFirst(prefix.count).lowercased().replacingUnderscores()
    }
}

extension String {
    fileprivate func replacingUnderscores() -> String { String(map { $0 == "_" ? "-" : $0 }) }
}
