import Gateway
import Glibc
import Logging

/// `gateway`: flags and GATEWAY_* variables -> GatewayConfiguration -> run. What the settings
/// are, how they parse and what they mean is declared once in `GatewaySettings`.
@main
enum GatewayCommand {
    static func main() {
        let commandLine = Array(CommandLine.arguments.dropFirst())
        if commandLine.first == "flags" {
            if commandLine.count == 1 || commandLine.contains("--help") || commandLine.contains("-h") {
                writeToStandardOutput(FlagsTool.usage)
                Glibc.exit(commandLine.count == 1 ? 2 : 0)
            }
            Glibc.exit(FlagsTool.run(Array(commandLine.dropFirst()), environment: SettingsParser.processEnvironment()))
        }
        if commandLine.contains("--help") || commandLine.contains("-h") {
            writeToStandardOutput(SettingsDocumentation.help())
            Glibc.exit(0)
        }
        if commandLine.contains("--help-markdown") {
            writeToStandardOutput(SettingsDocumentation.markdown())
            Glibc.exit(0)
        }
        if commandLine.contains("--version") {
            writeToStandardOutput("tickstream gateway \(BuildInfo.version) (Swift \(BuildInfo.swiftVersion))\n")
            Glibc.exit(0)
        }
        let settings: SettingsParser
        do {
            settings = try SettingsParser(commandLine: commandLine, environment: SettingsParser.processEnvironment())
        } catch {
            fail(error.reason)
        }
        let configuration = settings.configuration
        bootstrapLogging(level: configuration.logLevel, format: configuration.logFormat)
        let logger = Logger(label: "tickstream.gateway")
        let gateway: Gateway
        do {
            // Built before the first log line: a certificate that cannot serve stops us here.
            gateway = try Gateway(configuration: configuration, logger: logger)
        } catch let misconfigured as SettingError {
            fail(settings.attributed(misconfigured).reason)
        } catch {
            writeToStandardError("gateway: \(error)\n")
            Glibc.exit(1)
        }
        var effective = SettingsDocumentation.effective(configuration)
        effective["max_connections"] = "\(gateway.maxConnections)"
        logger.info("starting", metadata: effective)
        do {
            try gateway.run()
        } catch {
            writeToStandardError("gateway: \(error)\n")
            Glibc.exit(1)
        }
        // 3: this version was rolled back by a watched deploy's standby.
        Glibc.exit(gateway.exitStatus)
    }

    /// A start-up misconfiguration: exit 2, like a bad flag, with nothing started.
    static func fail(_ message: String) -> Never {
        writeToStandardError("Error: \(message)\n")
        Glibc.exit(2)
    }

    static func bootstrapLogging(level: Logger.Level, format: LogFormat) {
        LoggingSystem.bootstrap { label in
            if format == .json {
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}

