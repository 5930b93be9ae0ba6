/// The JetStream API requests the gateway makes in more than one place (the market's
/// last-value stream, the feature-flag bucket), each written once.
public enum JetStreamRequests {
    /// Creates a stream with `configuration` (JSON) unless one of that name exists, which is
    /// then used as it is. The completion gets why it cannot be used (naming it as `what`, say
    /// "stream MD"), or nil.
    public static func createStream(_ client: NATSClient, name: String, configuration: String, timeout: UInt64, what: String,
                                    _ done: @escaping (String?) -> Void) {
        client.request("$JS.API.STREAM.CREATE.\(name)", payload: Array(configuration.utf8), timeout: timeout) { result in
            switch result {
            case .failure(.noResponders):
                done("JetStream is not enabled on the server (start nats-server with -js)")
            case .failure(let error):
                done("creating \(what): \(error)")
            case .success(let reply):
                let text = String(decoding: reply.payload, as: UTF8.self)
                // 10058: the stream exists with other settings; it is used as it is.
                done(!text.contains("\"error\"") || text.contains("\"err_code\":10058") ? nil : "creating \(what): \(text)")
            }
        }
    }

    /// The subjects of stream `name` that match `filter` and hold a message (stream info with a
    /// subjects filter); nil when the stream cannot say.
    public static func subjects(_ client: NATSClient, stream name: String, filter: String, timeout: UInt64,
                                _ done: @escaping ([String]?) -> Void) {
        let request = "{\"subjects_filter\":\"\(filter)\"}"
        client.request("$JS.API.STREAM.INFO.\(name)", payload: Array(request.utf8), timeout: timeout) { result in
            guard case .success(let reply) = result else { return done(nil) }
            done(JetStreamStreamInfo.subjects(reply.payload))
        }
    }
}
