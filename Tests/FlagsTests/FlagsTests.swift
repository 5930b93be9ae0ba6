import Testing
@testable import Flags

@Suite struct CohortTests {
    /// The documented hash (docs/flags.md): FNV-1a 64 of "<flag>:<user>" modulo 10,000. These
    /// values were computed apart from this code (Python, in the docs).
    @Test func theTestVector() {
        #expect(Cohort.bucket(flag: "delta-updates", user: "alice") == 3872)
        #expect(Cohort.bucket(flag: "delta-updates", user: "bob") == 7043)
        #expect(Cohort.bucket(flag: "delta-updates", user: "user-42") == 7104)
        #expect(Cohort.bucket(flag: "rate-caps", user: "alice") == 585)
    }

    @Test func aPercentageSelectsAboutThatShareAndWideningKeepsWhoHadIt() {
        let users = (0..<10_000).map { "user-\($0)" }
        let at5 = Set(users.filter { Cohort.isIn(flag: "delta-updates", user: $0, percent: 5) })
        let at25 = Set(users.filter { Cohort.isIn(flag: "delta-updates", user: $0, percent: 25) })
        #expect(at25.count == 2469)  // the same count the Python in docs/flags.md gives
        #expect((400...600).contains(at5.count) && at5.isSubset(of: at25))
        // Another flag picks other users.
        let other = Set(users.filter { Cohort.isIn(flag: "rate-caps", user: $0, percent: 25) })
        #expect(other.intersection(at25).count < 1000)
    }

    @Test func theKillSwitchAndTheAllowlist() {
        var flag = FeatureFlag(name: "delta-updates", enabled: true, allow: ["bob"], percent: 0)
        #expect(flag.isOn(for: "bob") && !flag.isOn(for: "alice") && !flag.isKilled)
        flag.percent = 100
        #expect(flag.isOn(for: "alice"))
        flag.enabled = false
        #expect(!flag.isOn(for: "bob") && !flag.isOn(for: "alice") && flag.isKilled)
    }
}

@Suite struct FlagCodecTests {
    @Test func aFlagRoundTrips() throws {
        let flag = FeatureFlag(name: "delta-updates", enabled: true, allow: ["bob", "alice"], percent: 2.5, by: "ops@host", reason: "widen, 2.5%")
        let text = FlagCodec.encode(flag)
        #expect(text == #"{"enabled":true,"percent":2.5,"allow":["alice","bob"],"by":"ops@host","reason":"widen, 2.5%"}"#)
        #expect(try FlagCodec.decode(name: "delta-updates", text).get() == flag)
        #expect(try FlagCodec.decode(name: "x", #"{"enabled":false}"#).get() == FeatureFlag(name: "x", enabled: false))
    }

    @Test(arguments: [
        (#"{"percent":5}"#, "\"enabled\" is required"),
        (#"{"enabled":"yes"}"#, "true or false"),
        (#"{"enabled":true,"percent":101}"#, "from 0 to 100"),
        (#"{"enabled":true,"percent":-1}"#, "from 0 to 100"),
        (#"{"enabled":true,"percentage":5}"#, "unknown field \"percentage\""),
        (#"{"enabled":true,"allow":"bob"}"#, "array of user ids"),
        (#"{"enabled":true,"allow":[1]}"#, "array of user ids"),
        (#"[1]"#, "a flag is a JSON object"),
        (#"{"enabled":true"#, "invalid JSON"),
        (#"{"enabled":true} x"#, "invalid JSON"),
        (#"{"enabled":true,"reason":"a \"quote\""}"#, "without escapes"),
    ])
    func badValuesAreRefusedWithAReason(text: String, reason: String) {
        guard case .failure(let error) = FlagCodec.decode(name: "delta-updates", text) else {
            Issue.record("accepted \(text)")
            return
        }
        #expect(error.description.contains(reason), "\(error)")
        #expect(error.description.hasPrefix("flag delta-updates: "))
    }

    @Test func namesAreKeysAndLabels() {
        #expect(FeatureFlag.isValidName("delta-updates") && FeatureFlag.isValidName("a") && FeatureFlag.isValidName("x_1"))
        for bad in ["", "-x", "Delta", "a.b", "a b", String(repeating: "a", count: 65)] { #expect(!FeatureFlag.isValidName(bad), "\(bad)") }
    }

    @Test func aFileIsFlagsByNameAndOneBadFlagRefusesIt() throws {
        let good = #"{"delta-updates":{"enabled":true,"percent":5},"rate-caps":{"enabled":false}}"#
        let flags = try good.utf8CString.withUnsafeBytes { try FlagCodec.decodeFile(UnsafeRawBufferPointer(rebasing: $0.dropLast())).get() }
        #expect(flags.count == 2 && flags["delta-updates"]?.percent == 5)
        let bad = #"{"delta-updates":{"enabled":true},"Rate":{"enabled":true}}"#
        let refused = bad.utf8CString.withUnsafeBytes { FlagCodec.decodeFile(UnsafeRawBufferPointer(rebasing: $0.dropLast())) }
        guard case .failure(let error) = refused else { Issue.record("accepted"); return }
        #expect(error.description.contains("\"Rate\""))
        #expect(try FlagCodec.encodeFile(flags).utf8CString.withUnsafeBytes { try FlagCodec.decodeFile(UnsafeRawBufferPointer(rebasing: $0.dropLast())).get() } == flags)
    }
}
