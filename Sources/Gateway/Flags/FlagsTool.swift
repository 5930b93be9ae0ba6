import EventLoop
import Flags
import Glibc
import Logging
import NATS

/// `gateway flags …`: the operator's tools for feature flags, on the fleet's bucket (`--bus`)
/// or an instance's `--flags-file`.
///
///     gateway flags list                     every flag and its state
///     gateway flags show NAME                one flag, as stored
///     gateway flags set NAME [--enabled true|false] [--percent P] [--allow a,b] [--reason TEXT]
///     gateway flags kill NAME [--reason TEXT]
///     gateway flags monitor NAME (--prometheus URL | --metrics URL,URL) [--interval S] [--window S] [--once]
///
/// Where the flags are is said with the gateway's own settings (`--bus`, `--bus-token`,
/// `--flags-bucket`, `--flags-file`, and their GATEWAY_* variables); every change records
/// `--by` (default: $USER@host). The monitor judges with the thresholds of a watched deploy
/// (`--watch-min-sample`, `--watch-min-sessions`, `--watch-max-failure-increase`,
/// `--watch-max-latency-increase`).
public enum FlagsTool {
    /// Exit statuses: 0 done, 1 failed (the store could not be reached or refused), 2 usage.
    public static func run(_ arguments: [String], environment: [String: String]) -> Int32 {
        do {
            var options = try ToolOptions(arguments, environment: environment)
            return try options.run()
        } catch let error as ToolError {
            writeToStandardError("gateway flags: \(error.message)\n")
            return error.status
        } catch {
            writeToStandardError("gateway flags: \(error)\n")
            return 1
        }
    }

    public static let usage = """
        gateway flags list | show NAME | set NAME [--enabled true|false] [--percent P] [--allow a,b] [--reason TEXT]
                          | kill NAME [--reason TEXT] | monitor NAME (--prometheus URL | --metrics URL,URL) [--interval S] [--window S] [--once]
          where the flags are: --bus URL [--flags-bucket NAME] (the fleet), or --flags-file PATH (one instance)
          --by WHO names who changes a flag (default $USER@host); docs/flags.md

        """
}

struct ToolError: Error {
    let message: String
    var status: Int32 = 1
    static func usage(_ message: String) -> ToolError { ToolError(message: message + "\n" + FlagsTool.usage, status: 2) }
}

/// The tool's command line: its own options, and the gateway settings that say where the
/// flags are and how to judge (parsed by the gateway's own settings parser).
struct ToolOptions {
    var command: String
    var name: String?
    var own: [String: String] = [:]
    var configuration: GatewayConfiguration

    static let ownValued: Set<String> = ["enabled", "percent", "allow", "reason", "by", "prometheus", "metrics", "interval", "window"]
    static let ownSwitches: Set<String> = ["once"]

    init(_ arguments: [String], environment: [String: String]) throws {
        guard let command = arguments.first else { throw ToolError.usage("a command is needed") }
        self.command = command
        var rest = Array(arguments.dropFirst())
        if let first = rest.first, !first.hasPrefix("--") {
            name = first
            rest.removeFirst()
        }
        var settings: [String] = []
        var index = 0
        while index < rest.count {
            let argument = rest[index]
            let key = String(argument.dropFirst(2).prefix { $0 != "=" })
            let inline = argument.contains("=") ? String(argument.drop { $0 != "=" }.dropFirst()) : nil
            if argument.hasPrefix("--"), Self.ownSwitches.contains(key) {
                own[key] = "true"
            } else if argument.hasPrefix("--"), Self.ownValued.contains(key) {
                if let inline { own[key] = inline } else {
                    guard index + 1 < rest.count else { throw ToolError.usage("--\(key) needs a value") }
                    index += 1
                    own[key] = rest[index]
                }
            } else {
                settings.append(argument)
            }
            index += 1
        }
        do {
            configuration = try SettingsParser(commandLine: settings, environment: environment).configuration
        } catch {
            throw ToolError.usage(error.reason)
        }
        if let name, !FeatureFlag.isValidName(name) { throw ToolError.usage("flag name \"\(name)\": expected [a-z0-9][a-z0-9_-]{0,63}") }
    }

    var by: String {
        own["by"] ?? "\(ProcessInfoLite.user)@\(ProcessStatistics.hostName())"
    }

    func requireName() throws -> String {
        guard let name else { throw ToolError.usage("\(command) needs a flag name") }
        return name
    }

    mutating func run() throws -> Int32 {
        let store = try FlagStore(configuration)
        switch command {
        case "list":
            let flags = try store.readAll()
            for name in flags.keys.sorted() {
                switch flags[name]! {
                case .success(let flag): writeToStandardOutput("\(name)\t\(FlagCodec.encode(flag))\n")
                case .failure(let error): writeToStandardOutput("\(name)\tREFUSED \(error)\n")
                }
            }
            if flags.isEmpty { writeToStandardOutput("no flags in \(store.description): every gated feature is off\n") }
            return 0
        case "show":
            let name = try requireName()
            guard let value = try store.readAll()[name] else {
                writeToStandardOutput("\(name) is not defined in \(store.description): off for everyone\n")
                return 0
            }
            switch value {
            case .success(let flag): writeToStandardOutput(FlagCodec.encode(flag) + "\n")
            case .failure(let error): writeToStandardOutput("REFUSED \(error)\n")
            }
            return 0
        case "set", "kill":
            let name = try requireName()
            let flag = try store.update(name, by: by, reason: own["reason"] ?? (command == "kill" ? "killed by hand" : nil)) { flag in
                if command == "kill" { flag.enabled = false } else { try apply(to: &flag) }
            }
            writeToStandardOutput("\(name)\t\(FlagCodec.encode(flag))\n")
            if store.isFile { writeToStandardOutput("written to \(store.description): the gateway reads it on SIGHUP or POST /admin/reload-flags\n") }
            return 0
        case "monitor":
            let name = try requireName()
            return try FlagsMonitor(flag: name, options: self, store: store).run()
        default:
            throw ToolError.usage("unknown command \"\(command)\"")
        }
    }

    private func apply(to flag: inout FeatureFlag) throws {
        if let enabled = own["enabled"] {
            guard let value = Setting.parseSwitch(enabled) else { throw ToolError.usage("--enabled takes true or false, got \(enabled)") }
            flag.enabled = value
        } else if own["percent"] != nil || own["allow"] != nil {
            flag.enabled = true  // widening a flag means it is on
        }
        if let percent = own["percent"] {
            guard let value = Double(percent), (0...100).contains(value) else { throw ToolError.usage("--percent takes 0 to 100, got \(percent)") }
            flag.percent = value
        }
        if let allow = own["allow"] {
            flag.allow = Set(allow.split(separator: ",").map { String($0) }.filter { !$0.isEmpty })
        }
    }

    func seconds(_ key: String, default value: Double) throws -> Double {
        guard let text = own[key] else { return value }
        guard let seconds = Double(text), seconds > 0, seconds <= 86_400 else { throw ToolError.usage("--\(key) takes seconds, got \(text)") }
        return seconds
    }
}

/// The current user's name, for `--by`.
enum ProcessInfoLite {
    static var user: String {
        if let name = getenv("USER") { return String(cString: name) }
        if let entry = getpwuid(getuid()), let name = entry.pointee.pw_name { return String(cString: name) }
        return "uid\(getuid())"
    }
}
