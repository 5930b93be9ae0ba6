import Gateway
import Testing

@Suite struct EnvironmentDefaultsTests {
    @Test func variablesBecomeOptionsBeforeTheCommandLine() throws {
        let arguments = try EnvironmentDefaults.arguments(
            commandLine: ["--port", "9000"],
            environment: ["GATEWAY_SIM_RATE": "50", "GATEWAY_PORT": "7000", "HOME": "/root", "GATEWAY_LOG_FORMAT": "json"],
            flags: ["reuse-port", "echo"])
        #expect(arguments == ["--log-format=json", "--sim-rate=50", "--port", "9000"], "an explicit --port wins over GATEWAY_PORT")
    }

    @Test func flagsAreOnOnlyForTrueLikeValues() throws {
        for (value, on) in [("true", true), ("1", true), ("YES", true), ("on", true), ("false", false), ("0", false), ("off", false)] {
            let arguments = try EnvironmentDefaults.arguments(commandLine: [], environment: ["GATEWAY_REUSE_PORT": value], flags: ["reuse-port"])
            #expect(arguments == (on ? ["--reuse-port"] : []), "GATEWAY_REUSE_PORT=\(value)")
        }
    }

    /// Regression: GATEWAY_REUSE_PORT=banana used to be taken as false without a word.
    @Test func aFlagVariableThatIsNeitherTrueNorFalseIsRefused() {
        #expect(throws: EnvironmentDefaults.InvalidVariable.self) {
            try EnvironmentDefaults.arguments(commandLine: [], environment: ["GATEWAY_REUSE_PORT": "banana"], flags: ["reuse-port"])
        }
    }

    /// A failed parse names the variable to blame, and only when the command line alone is fine.
    @Test func theCulpritIsTheVariableThatFailsOnItsOwn() {
        let parses: ([String]) -> Bool = { arguments in
            !arguments.contains { $0.hasPrefix("--port=") && Int($0.dropFirst(7)) == nil } && !arguments.contains("--bad")
        }
        let environment = ["GATEWAY_SIM_RATE": "5", "GATEWAY_PORT": "abc", "GATEWAY_ECHO": "maybe"]
        let found = EnvironmentDefaults.culprit(commandLine: ["--host", "::1"], environment: environment, flags: ["echo"], parses: parses)
        #expect(found?.name == "GATEWAY_ECHO", "the first in name order that fails alone")
        let port = EnvironmentDefaults.culprit(commandLine: [], environment: ["GATEWAY_PORT": "abc"], flags: [], parses: parses)
        #expect(port?.name == "GATEWAY_PORT" && port?.value == "abc")
        #expect(EnvironmentDefaults.culprit(commandLine: ["--bad"], environment: environment, flags: ["echo"], parses: parses) == nil)
    }

    @Test func theEqualsFormOnTheCommandLineAlsoWins() throws {
        let arguments = try EnvironmentDefaults.arguments(commandLine: ["--host=::1"], environment: ["GATEWAY_HOST": "0.0.0.0"], flags: [])
        #expect(arguments == ["--host=::1"])
    }

    /// Kubernetes injects GATEWAY_PORT=tcp://... for a Service named "gateway": refused with
    /// the cause named, never taken for --port.
    @Test func kubernetesServiceLinksAreNamedAsSuch() {
        for (name, value) in [("GATEWAY_PORT", "tcp://10.96.0.7:80"), ("GATEWAY_SERVICE_HOST", "10.96.0.7"),
                              ("GATEWAY_SERVICE_PORT_WS", "80"), ("GATEWAY_PORT_80_TCP_ADDR", "10.96.0.7")] {
            do {
                _ = try EnvironmentDefaults.arguments(commandLine: [], environment: [name: value], flags: [])
                Issue.record("\(name) accepted")
            } catch let invalid as EnvironmentDefaults.InvalidVariable {
                #expect(invalid.description.hasPrefix("\(name)=\(value): this is a Kubernetes service link"))
                #expect(invalid.description.contains("enableServiceLinks: false"))
            } catch {
                Issue.record("\(error)")
            }
        }
        // Our own variables that merely look alike still work.
        #expect((try? EnvironmentDefaults.arguments(commandLine: [], environment: ["GATEWAY_PORT": "8080"], flags: [])) == ["--port=8080"])
    }
}
