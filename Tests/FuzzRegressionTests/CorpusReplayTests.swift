import FuzzTargets
import Glibc
import Testing

/// Every seed and every input a fuzzer ever crashed on (fuzz/corpus/<target>/ and
/// fuzz/regressions/<target>/) goes through its target on every test run, so a fixed crash
/// stays fixed even where libFuzzer does not run.
@Suite struct CorpusReplayTests {
    static let root: String = {
        var path = #filePath
        for _ in 0..<3 { path = String(path[..<path.lastIndex(of: "/")!]) }
        return path + "/fuzz"
    }()

    static func files(_ target: String) -> [String] {
        var found: [String] = []
        for folder in ["corpus", "regressions"] {
            let directory = "\(root)/\(folder)/\(target)"
            guard let stream = opendir(directory) else { continue }
            defer { closedir(stream) }
            while let entry = readdir(stream) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
                }
                if !name.hasPrefix(".") { found.append("\(directory)/\(name)") }
            }
        }
        return found.sorted()
    }

    @Test(arguments: ["frame-stream", "http-request", "command", "feed", "token", "nats"])
    func everyCorpusFileRunsCleanly(target: String) throws {
        let files = Self.files(target)
        #expect(files.count >= 3, "a seed corpus for \(target)")
        let run: (UnsafeRawBufferPointer) -> Void
        switch target {
        case "frame-stream": run = FrameStreamTarget.run
        case "http-request": run = HTTPRequestTarget.run
        case "command": run = CommandTarget.run
        case "feed": run = FeedTarget.run
        case "nats": run = NATSTarget.run
        default: run = TokenTarget.run
        }
        for file in files {
            let bytes = try #require(readFile(file))
            bytes.withUnsafeBytes(run)
        }
    }
}
