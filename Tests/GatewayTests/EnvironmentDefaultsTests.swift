import Gateway
import Testing

@Suite struct EnvironmentDefaultsTests {
    @Test func variablesBecomeOptionsBeforeTheCommandLine() {
        let arguments = EnvironmentDefaults.arguments(
            commandLine: ["--port", "9000"],
            environment: ["GATEWAY_SIM_RATE": "50", "GATEWAY_PORT": "7000", "HOME": "/root", "GATEWAY_LOG_FORMAT": "json"],
            flags: ["reuse-port", "echo"])
        #expect(arguments == ["--log-format=json", "--sim-rate=50", "--port", "9000"], "an explicit --port wins over GATEWAY_PORT")
    }

    @Test func flagsAreOnOnlyForTrueLikeValues() {
        for (value, on) in [("true", true), ("1", true), ("YES", true), ("on", true), ("false", false), ("0", false)] {
            let arguments = EnvironmentDefaults.arguments(commandLine: [], environment: ["GATEWAY_REUSE_PORT": value], flags: ["reuse-port"])
            #expect(arguments == (on ? ["--reuse-port"] : []), "GATEWAY_REUSE_PORT=\(value)")
        }
    }

    @Test func theEqualsFormOnTheCommandLineAlsoWins() {
        let arguments = EnvironmentDefaults.arguments(commandLine: ["--host=::1"], environment: ["GATEWAY_HOST": "0.0.0.0"], flags: [])
        #expect(arguments == ["--host=::1"])
    }
}
