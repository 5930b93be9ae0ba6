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

    /// `flags` are the options without a value: true/1/yes turns them on.
    public static func arguments(commandLine: [String], environment: [String: String], flags: Set<String>) -> [String] {
        var injected: [String] = []
        for (key, value) in environment.sorted(by: { $0.key < $1.key }) where key.hasPrefix(prefix) {
            let name = key.dropFirst(prefix.count).lowercased().replacingUnderscores()
            let explicitlyGiven = commandLine.contains { $0 == "--\(name)" || $0.hasPrefix("--\(name)=") }
            if explicitlyGiven { continue }
            if flags.contains(name) {
                if ["1", "true", "yes", "on"].contains(value.lowercased()) { injected.append("--\(name)") }
            } else {
                injected.append("--\(name)=\(value)")
            }
        }
        return injected + commandLine
    }
}

extension String {
    fileprivate func replacingUnderscores() -> String { String(map { $0 == "_" ? "-" : $0 }) }
}
