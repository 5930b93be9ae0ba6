import Flags
import NATS

/// The fleet's flags in a NATS key-value bucket (JetStream KV: stream `KV_<bucket>`, one subject
/// `$KV.<bucket>.<flag>` per flag, the last value kept), so a change reaches every instance
/// within a second and tools that speak NATS KV (`nats kv`, nats.py) read and write the same
/// keys. Each instance follows the bucket's subjects live and, at each connect, reads every
/// key's last value; a value it cannot read is refused with a log line and the flag keeps the
/// value it had.
final class FlagBucket {
    let bucket: String
    private let client: NATSClient
    private let book: FlagBook?
    private let replicas: Int
    private let timeout: UInt64
    /// Keys updated live since the last connect: an older value fetched afterwards is stale.
    private var seenLive = Set<String>()
    private var sid: UInt64?

    /// `book`: where the flags go (an instance); nil for a tool that only reads and writes.
    init(client: NATSClient, bucket: String, book: FlagBook?, replicas: Int, timeout: UInt64) {
        self.client = client
        self.bucket = bucket
        self.book = book
        self.replicas = replicas
        self.timeout = timeout
    }

    var stream: String { "KV_\(bucket)" }
    var prefix: String { "$KV.\(bucket)." }

    /// The stream as NATS KV makes a bucket: one value kept per key, deletes as markers.
    var configuration: String {
        "{\"name\":\"\(stream)\",\"subjects\":[\"\(prefix)>\"],\"max_msgs_per_subject\":1,\"discard\":\"new\",\"deny_delete\":true,"
            + "\"allow_rollup_hdrs\":true,\"allow_direct\":true,\"storage\":\"file\",\"num_replicas\":\(replicas)}"
    }

    /// Follows the bucket's subjects from now on (the client keeps the subscription across
    /// reconnects).
    func start() {
        guard sid == nil else { return }
        sid = client.subscribe(prefix + ">") { [unowned self] message in
            let key = String(message.subjectString.dropFirst(prefix.count))
            seenLive.insert(key)
            apply(key: key, headers: message.headers.flatMap(NATSHeaders.init), payload: message.payload, trigger: "bucket \(bucket)")
        }
    }

    /// At each connect: the bucket made if missing, then every key's last value.
    func connected() {
        seenLive.removeAll()
        ensure { [weak self] _ in
            self?.readAll { [weak self] values in
                guard let self, let values else { return }
                for (key, value) in values.sorted(by: { $0.key < $1.key }) where !seenLive.contains(key) {
                    switch value {
                    case .success(let flag): book?.set(flag, trigger: "bucket \(bucket) at connect")
                    case .failure(let error): book?.refuse(error, trigger: "bucket \(bucket) at connect")
                    }
                }
            }
        }
    }

    /// Makes the bucket if it is missing (one that exists is used as it is); the completion
    /// gets why it cannot be used, or nil.
    func ensure(_ done: @escaping (String?) -> Void) {
        JetStreamRequests.createStream(client, name: stream, configuration: configuration, timeout: timeout, what: "bucket \(bucket)", done)
    }

    /// Every key's last value, read or refused (deleted keys left out); nil when the bucket
    /// cannot be listed.
    func readAll(_ done: @escaping ([String: Result<FeatureFlag, FlagError>]?) -> Void) {
        JetStreamRequests.subjects(client, stream: stream, filter: prefix + ">", timeout: timeout) { [weak self] subjects in
            guard let self, let subjects else { return done(nil) }
            let keys = subjects.filter { $0.hasPrefix(self.prefix) }.map { String($0.dropFirst(self.prefix.count)) }.sorted()
            var values: [String: Result<FeatureFlag, FlagError>] = [:]
            var waiting = keys.count
            if waiting == 0 { return done(values) }
            for key in keys {
                client.request("$JS.API.DIRECT.GET.\(stream).\(prefix)\(key)", payload: [], timeout: timeout) { result in
                    if case .success(let reply) = result, reply.status == nil, !Self.isDeletion(reply.headers) {
                        values[key] = reply.payload.withUnsafeBytes { FlagCodec.decode(name: key, $0) }
                    }
                    waiting -= 1
                    if waiting == 0 { done(values) }
                }
            }
        }
    }

    /// Writes a flag's value; the completion gets why it was not stored, or nil.
    func put(_ flag: FeatureFlag, _ done: @escaping (String?) -> Void) {
        client.request(prefix + flag.name, payload: Array(FlagCodec.encode(flag).utf8), timeout: timeout) { result in
            switch result {
            case .failure(let error): done("storing \(flag.name): \(error)")
            case .success(let reply):
                let text = String(decoding: reply.payload, as: UTF8.self)
                done(text.contains("\"seq\"") && !text.contains("\"error\"") ? nil : "storing \(flag.name): \(text)")
            }
        }
    }

    private static func isDeletion(_ headers: NATSHeaders?) -> Bool {
        guard let operation = headers?.value("KV-Operation") else { return false }
        return operation == "DEL" || operation == "PURGE"
    }

    private func apply(key: String, headers: NATSHeaders?, payload: UnsafeRawBufferPointer, trigger: String) {
        if Self.isDeletion(headers) {
            book?.remove(key, trigger: trigger)
            return
        }
        switch FlagCodec.decode(name: key, payload) {
        case .success(let flag): book?.set(flag, trigger: trigger)
        case .failure(let error): book?.refuse(error, trigger: trigger)
        }
    }
}
