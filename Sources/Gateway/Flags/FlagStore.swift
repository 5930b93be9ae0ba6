import EventLoop
import Flags
import Glibc
import NATS

/// Where the tools read and write flags: the fleet's bucket over NATS (`--bus`), or an
/// instance's `--flags-file`. Blocking: each call runs its own loop until the answer is in.
final class FlagStore: CustomStringConvertible {
    private let file: String?
    private let loop: EventLoop?
    private let client: NATSClient?
    private let bucket: FlagBucket?
    private let connectTimeout: UInt64 = 5_000_000_000

    var isFile: Bool { file != nil }
    var description: String { file.map { "file \($0)" } ?? "bucket \(bucket!.bucket)" }

    init(_ configuration: GatewayConfiguration) throws {
        if let path = configuration.flagsFile {
            file = path
            loop = nil
            client = nil
            bucket = nil
        } else if let bus = configuration.bus {
            file = nil
            let loop = try EventLoop()
            let client = NATSClient(loop: loop, settings: try BusSecurity.prepared(bus).clientSettings(name: "tickstream flags tool"))
            self.loop = loop
            self.client = client
            bucket = FlagBucket(client: client, bucket: configuration.flagsBucket, book: nil, replicas: bus.streamReplicas, timeout: bus.requestTimeout)
        } else {
            throw ToolError.usage("say where the flags are: --bus URL (the fleet's bucket) or --flags-file PATH")
        }
    }

    deinit { client?.stop() }

    func readAll() throws -> [String: Result<FeatureFlag, FlagError>] {
        if let file {
            guard access(file, F_OK) == 0 else { return [:] }
            switch FlagsFile.read(file) {
            case .success(let flags): return flags.mapValues { .success($0) }
            case .failure(let error): throw ToolError(message: error.description)
            }
        }
        try connect()
        var answer: [String: Result<FeatureFlag, FlagError>]??
        bucket!.ensure { [bucket] problem in
            if problem != nil { answer = .some(nil); return }
            bucket!.readAll { answer = .some($0) }
        }
        try wait { answer != nil }
        guard let values = answer! else { throw ToolError(message: "could not read bucket \(bucket!.bucket)") }
        return values
    }

    /// Changes one flag: its stored value (a flag not defined starts off) edited by `change`,
    /// with who and why; refused (exit 2) when a gateway would refuse it, else stored.
    @discardableResult
    func update(_ name: String, by: String, reason: String?, _ change: (inout FeatureFlag) throws -> Void) throws -> FeatureFlag {
        var flag = (try? readAll()[name]?.get()) ?? FeatureFlag(name: name, enabled: false)
        try change(&flag)
        flag.by = by
        flag.reason = reason
        if case .failure(let error) = FlagCodec.decode(name: name, FlagCodec.encode(flag)) { throw ToolError(message: error.description, status: 2) }
        try put(flag)
        return flag
    }

    private func put(_ flag: FeatureFlag) throws {
        if let file {
            var flags = try readAll().compactMapValues { try? $0.get() }
            flags[flag.name] = flag
            try write(FlagCodec.encodeFile(flags), to: file)
            return
        }
        try connect()
        var problem: String??
        bucket!.ensure { [bucket] ensureProblem in
            if let ensureProblem { problem = .some(ensureProblem); return }
            bucket!.put(flag) { problem = .some($0) }
        }
        try wait { problem != nil }
        if let problem = problem! { throw ToolError(message: problem) }
    }

    private func connect() throws {
        guard let client, client.status != .connected else { return }
        client.start()
        try wait { client.status == .connected }
    }

    private func wait(until done: () -> Bool) throws {
        let deadline = MonotonicClock.now() + connectTimeout
        while !done() {
            guard MonotonicClock.now() < deadline else {
                throw ToolError(message: "no answer from NATS (\(client?.server?.description ?? "no server")) within \(connectTimeout / 1_000_000_000) s")
            }
            loop!.runOnce(maxWait: 50)
        }
    }

    /// Replaces the file whole (a temporary file renamed over it), so a gateway reading it
    /// never sees half of it.
    private func write(_ text: String, to path: String) throws {
        let temporary = path + ".tmp-\(getpid())"
        guard let handle = fopen(temporary, "w") else { throw ToolError(message: "\(temporary): \(String(cString: strerror(errno)))") }
        var text = text
        let written = text.withUTF8 { fwrite($0.baseAddress, 1, $0.count, handle) == $0.count }
        guard fclose(handle) == 0, written, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw ToolError(message: "\(path): \(String(cString: strerror(errno)))")
        }
    }
}
