import ByteBuffers
import MarketData
import NATS

/// The JetStream stream that keeps the last message of every `<prefix>.>` subject: the fleet's
/// snapshot of every symbol, and where a writer finds the `seq` to continue from.
///
/// Settings when this instance creates it: subjects `<prefix>.>`, at most one message per
/// subject, limits retention, `streamStorage`, `allow_direct` (so any server answers a last-value
/// get without a consumer), no other limits. An existing stream is used as it is.
struct LastValueStream {
    let client: NATSClient
    let settings: BusSettings

    enum Fetched {
        /// The symbol's last bus message, decoded.
        case found(FeedUpdate)
        /// The stream has nothing for the symbol yet.
        case absent
        /// The last message is not a bus message (someone published something else there).
        case unreadable
        /// No answer: not connected, timed out, JetStream not there.
        case failed(String)
    }

    /// The stream's configuration as JetStream's API takes it.
    var configuration: String {
        "{\"name\":\"\(settings.stream)\",\"subjects\":[\"\(settings.prefix).>\"],\"retention\":\"limits\",\"max_msgs_per_subject\":1,"
            + "\"storage\":\"\(settings.streamStorage)\",\"discard\":\"old\",\"num_replicas\":\(settings.streamReplicas),\"allow_direct\":true}"
    }

    /// Creates the stream if it is missing, then learns when it was created (its identity:
    /// a stream deleted and made again is another sequence space). The completion gets the
    /// creation time (nil when the server does not say) or why the stream is not there.
    func ensure(_ completion: @escaping (Result<String?, StreamProblem>) -> Void) {
        JetStreamRequests.createStream(client, name: settings.stream, configuration: configuration, timeout: settings.requestTimeout,
                                       what: "stream \(settings.stream)") { problem in
            if let problem { return completion(.failure(StreamProblem(description: problem))) }
            client.request("$JS.API.STREAM.INFO.\(settings.stream)", payload: [], timeout: settings.requestTimeout) { result in
                guard case .success(let reply) = result else { return completion(.success(nil)) }
                completion(.success(Self.created(inStreamInfo: reply.payload)))
            }
        }
    }

    /// Why the stream cannot be used.
    struct StreamProblem: Error, CustomStringConvertible {
        let description: String
    }

    /// The top-level `"created"` of a stream info reply, or nil.
    static func created(inStreamInfo payload: [UInt8]) -> String? {
        payload.withUnsafeBytes { bytes in
            var reader = JSONReader(bytes)
            var created: String?
            do {
                try reader.readObject { reader, key in
                    if bytesEqual(key, "created"), reader.peekValueStart() == UInt8(ascii: "\"") {
                        created = String(decoding: try reader.readStringBytes(), as: UTF8.self)
                    } else {
                        try reader.skipValue()
                    }
                }
            } catch {
                return nil
            }
            return created
        }
    }

    /// The symbols the stream holds a message for (stream info with a subject filter), or nil
    /// when it cannot say.
    func listSymbols(_ completion: @escaping ([String]?) -> Void) {
        JetStreamRequests.subjects(client, stream: settings.stream, filter: settings.prefix + ".>", timeout: settings.requestTimeout) { subjects in
            completion(subjects.map { Self.symbols(inSubjects: $0, prefix: settings.prefix) })
        }
    }

    /// The symbols of `"state":{"subjects":{"md.AAPL":1,...}}` in a stream info reply: the keys
    /// under the prefix that are valid symbols. Nil when the reply has no subjects map.
    static func symbols(inStreamInfo payload: [UInt8], prefix: String) -> [String]? {
        JetStreamStreamInfo.subjects(payload).map { symbols(inSubjects: $0, prefix: prefix) }
    }

    static func symbols(inSubjects subjects: [String], prefix: String) -> [String] {
        let lead = prefix + "."
        return subjects.filter { $0.hasPrefix(lead) }.map { String($0.dropFirst(lead.count)) }.filter(SymbolSyntax.isValid).sorted()
    }

    /// Fetches the last message of `symbol`'s subject (JetStream direct get).
    func fetchLast(_ symbol: String, _ completion: @escaping (Fetched) -> Void) {
        let subject = "$JS.API.DIRECT.GET.\(settings.stream).\(settings.subject(of: symbol))"
        client.request(subject, payload: [], timeout: settings.requestTimeout) { result in
            switch result {
            case .failure(let error):
                completion(.failed("\(error)"))
            case .success(let reply):
                if reply.status == 404 {
                    completion(.absent)
                } else if let status = reply.status {
                    completion(.failed("status \(status) \(reply.headers?.statusDescription ?? "")"))
                } else if let update = Self.decode(reply.payload, symbol: symbol) {
                    completion(.found(update))
                } else {
                    completion(.unreadable)
                }
            }
        }
    }

    /// One bus message for `symbol`, or nil when it is not one.
    static func decode(_ payload: [UInt8], symbol: String) -> FeedUpdate? {
        var decoder = FeedDecoder(busMessages: true)
        guard let update = payload.withUnsafeBytes({ decoder.decodeBusMessage($0) }), update.symbol == symbol else { return nil }
        return update
    }
}
