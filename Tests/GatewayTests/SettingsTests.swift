import Foundation
@testable import Gateway
import Logging
import Testing

@Suite struct SettingsTests {
    func parse(_ commandLine: [String], _ environment: [String: String] = [:]) throws(SettingError) -> GatewayConfiguration {
        try SettingsParser(commandLine: commandLine, environment: environment).configuration
    }

    func refusal(_ commandLine: [String], _ environment: [String: String] = [:]) -> String? {
        do {
            _ = try parse(commandLine, environment)
            return nil
        } catch {
            return error.reason
        }
    }

    @Test func variablesSetDefaultsAndTheCommandLineWins() throws {
        let configuration = try parse(["--port", "9000", "--host=::1"],
                                      ["GATEWAY_SIM_RATE": "50", "GATEWAY_PORT": "7000", "HOME": "/root", "GATEWAY_LOG_FORMAT": "json",
                                       "GATEWAY_HOST": "0.0.0.0"])
        #expect(configuration.port == 9000, "an explicit --port wins over GATEWAY_PORT")
        #expect(configuration.host == "::1", "the = form wins too")
        #expect(configuration.simulatorRate == 50 && configuration.logFormat == .json)
    }

    /// One syntax for every switch, from the command line and the environment alike (the
    /// README promised it while --deflate and --web took only on/off).
    @Test func everySwitchTakesEveryBooleanWord() throws {
        // --require-feed needs a feed to watch.
        let feed = ["--publisher-token", "t"]
        for setting in GatewaySettings.all where setting.isSwitch {
            for (word, on) in [("true", true), ("1", true), ("YES", true), ("on", true), ("false", false), ("0", false), ("no", false), ("Off", false)] {
                let fromFlag = try parse(feed + ["--\(setting.name)", word])
                let fromEquals = try parse(feed + ["--\(setting.name)=\(word)"])
                let fromVariable = try parse(feed, [setting.variable: word])
                for configuration in [fromFlag, fromEquals, fromVariable] {
                    #expect(setting.value(in: configuration) == (on ? "on" : "off"), "\(setting.flag) \(word)")
                }
            }
            #expect(setting.value(in: try parse(feed + [setting.flag])) == "on", "\(setting.flag) alone is on")
            #expect(refusal([], [setting.variable: "banana"])?.contains("in the environment, \(setting.variable)=banana") == true,
                    "a variable that is neither true nor false is refused, never taken as off")
        }
        let configuration = try parse(["--deflate", "off", "--echo", "--port", "0"])
        #expect(!configuration.deflate && configuration.echo && configuration.port == 0, "a switch without a word leaves the next flag alone")
    }

    /// Every setting's default, shown as text, parses back to itself: the docs' default column
    /// is a value the flag really takes.
    @Test func everyShownValueParsesBackToItself() throws {
        let defaults = GatewayConfiguration()
        for setting in GatewaySettings.all where !setting.isSecret {
            let shown = setting.value(in: defaults)
            guard !shown.isEmpty else { continue }
            var configuration = GatewayConfiguration()
            try setting.apply(shown, to: &configuration)
            #expect(setting.value(in: configuration) == shown, "\(setting.flag) \(shown)")
        }
    }

    @Test func namesAreUniqueAndVariablesFollowThem() {
        let names = GatewaySettings.all.map(\.name)
        #expect(Set(names).count == names.count)
        #expect(GatewaySettings.named("max-queue-bytes")?.variable == "GATEWAY_MAX_QUEUE_BYTES")
        for setting in GatewaySettings.all {
            #expect(setting.name.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "-" }, "\(setting.name)")
            #expect(!setting.help.isEmpty && setting.help.last == ".", "\(setting.flag) has a help sentence")
        }
    }

    @Test func rangesAndRulesAreRefusedWithTheFlagNamed() {
        let cases: [([String], [String: String], String)] = [
            (["--port", "70000"], [:], "--port must be 0...65535, got 70000"),
            (["--port", "-1"], [:], "--port must be 0...65535, got -1"),
            (["--port", "abc"], [:], "--port must be a whole number"),
            (["--host", "nothost"], [:], "--host must be an IPv4 or IPv6 literal"),
            (["--max-queue-bytes", "1024"], [:], "--max-queue-bytes must be 4096...1073741824"),
            (["--message-rate", "-1"], [:], "--message-rate must be 0...1000000 (0: no limit), got -1"),
            (["--drain-grace", "20", "--drain-timeout", "10"], [:], "--drain-timeout (10) must be at least"),
            (["--ping-interval", "30", "--idle-timeout", "20"], [:], "--idle-timeout (20) must be longer than --ping-interval (30)"),
            (["--tls-cert", "a.pem"], [:], "--tls-cert and --tls-key go together"),
            (["--require-feed"], [:], "--require-feed needs --publisher-token or --bus"),
            (["--handover", "connections"], [:], "--handover connections needs --takeover"),
            (["--log-format", "xml"], [:], "--log-format must be one of text, json, got xml"),
            (["--sim-symbols", "AAPL,bad"], [:], "invalid symbol \"bad\""),
            (["--sim-symbols", "AAPL,AAPL"], [:], "lists a symbol twice"),
            (["--sim-symbols", "20000"], [:], "--sim-symbols count must be 1...10000"),
            (["--max-symbols", "5"], [:], "the simulator needs 30 symbols"),
            (["--bus-token", "x"], [:], "--bus-token needs --bus"),
            (["--bus", "nats://127.0.0.1:4222", "--sim-rate", "10"], [:], "with --bus every update comes through the bus"),
            (["--bus", "nats://127.0.0.1:4222", "--bus-prefix", "md.>"], [:], "--bus-prefix must be a NATS subject without wildcards"),
            (["--admin-token", "has space"], [:], "--admin-token must be non-empty"),
            (["--allowed-origins", "desk.example.com"], [:], "--allowed-origins"),
            (["--no-such-flag"], [:], "unknown option --no-such-flag"),
            (["--port"], [:], "--port needs a value"),
            (["stray"], [:], "unexpected argument stray"),
            ([], ["GATEWAY_DRAIN_GRACE": "-3"], "in the environment, GATEWAY_DRAIN_GRACE=-3: --drain-grace must be 0...3600 seconds"),
            ([], ["GATEWAY_NO_SUCH": "1"], "in the environment, GATEWAY_NO_SUCH=1: no such setting"),
            ([], ["GATEWAY_JWT_SECRET": "short"], "in the environment, GATEWAY_JWT_SECRET=(secret): --jwt-secret must be at least 32 bytes"),
        ]
        for (commandLine, environment, expected) in cases {
            let reason = refusal(commandLine, environment)
            #expect(reason?.contains(expected) == true, "\(commandLine) \(environment): \(reason ?? "accepted")")
        }
        #expect(refusal(["--drain-grace", "-3"], ["GATEWAY_DRAIN_GRACE": "1"])?.hasPrefix("--drain-grace") == true,
                "a bad flag is blamed on the flag, not on a good variable it overrode")
    }

    /// A configuration built in code meets the same rules: `Gateway.init` validates it.
    @Test func aConfigurationBuiltInCodeIsValidatedToo() {
        var configuration = GatewayConfiguration()
        configuration.port = 0
        configuration.maxQueueBytes = 100
        #expect(throws: SettingError(setting: "max-queue-bytes", "--max-queue-bytes must be 4096...1073741824, got 100")) {
            try configuration.validate()
        }
        configuration.maxQueueBytes = 1 << 20
        configuration.drainTimeout = 1
        #expect(throws: SettingError.self) {
            _ = try Gateway(configuration: configuration, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        }
        #expect(throws: Never.self) { try GatewayConfiguration().validate() }
    }

    /// Kubernetes injects GATEWAY_PORT=tcp://... for a Service named "gateway": refused with
    /// the cause named, never taken for --port.
    @Test func kubernetesServiceLinksAreNamedAsSuch() throws {
        for (name, value) in [("GATEWAY_PORT", "tcp://10.96.0.7:80"), ("GATEWAY_SERVICE_HOST", "10.96.0.7"),
                              ("GATEWAY_SERVICE_PORT_WS", "80"), ("GATEWAY_PORT_80_TCP_ADDR", "10.96.0.7")] {
            let reason = refusal([], [name: value])
            #expect(reason?.hasPrefix("in the environment, \(name)=\(value): this is a Kubernetes service link") == true, "\(name)")
            #expect(reason?.contains("enableServiceLinks: false") == true)
        }
        #expect(try parse([], ["GATEWAY_PORT": "8081"]).port == 8081, "our own variables that merely look alike still work")
    }

    @Test func theLogLineShowsEverySettingAndNoSecret() throws {
        let configuration = try parse(["--jwt-secret", String(repeating: "s", count: 40), "--admin-token", "hunter2", "--echo"])
        let logged = SettingsDocumentation.effective(configuration)
        for setting in GatewaySettings.all {
            #expect(logged[String(setting.name.map { $0 == "-" ? "_" : $0 })] != nil, "\(setting.flag)")
        }
        #expect("\(logged["jwt_secret"]!)" == "set" && "\(logged["admin_token"]!)" == "set" && "\(logged["publisher_token"]!)" == "unset")
        #expect(!logged.values.contains { "\($0)".contains("hunter2") || "\($0)".contains("ssss") })
        #expect("\(logged["echo"]!)" == "true" && "\(logged["sim_rate"]!)" == "1000")
    }

    /// docs/configuration.md holds the table `gateway --help-markdown` prints, between markers:
    /// a setting added, renamed or re-defaulted without the docs fails here.
    @Test func theDocsTableIsTheDeclarations() throws {
        let path = String(#filePath.prefix(upTo: #filePath.range(of: "/Tests/")!.lowerBound)) + "/docs/configuration.md"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let begin = "<!-- settings:begin (gateway --help-markdown) -->\n", end = "<!-- settings:end -->"
        let start = try #require(text.range(of: begin)), stop = try #require(text.range(of: end))
        let documented = String(text[start.upperBound..<stop.lowerBound])
        #expect(documented == SettingsDocumentation.markdown(),
                "docs/configuration.md is stale: replace its table with the output of `gateway --help-markdown`")
    }
}
