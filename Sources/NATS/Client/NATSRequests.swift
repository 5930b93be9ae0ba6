import EventLoop

/// A reply to a request, copied out of the input.
public struct NATSReply: Sendable {
    public let headers: NATSHeaders?
    public let payload: [UInt8]

    /// The status of a status reply (404 not found, 408 timeout, 503 no responders...).
    public var status: Int? { headers?.status }
}

public enum NATSRequestError: Error, Equatable, Sendable, CustomStringConvertible {
    case notConnected
    /// The connection ended before the reply came.
    case disconnected
    case timedOut
    /// Nobody subscribes to the subject (JetStream not enabled, no such stream...).
    case noResponders

    public var description: String {
        switch self {
        case .notConnected: return "not connected"
        case .disconnected: return "connection lost before the reply"
        case .timedOut: return "no reply in time"
        case .noResponders: return "no responders"
        }
    }
}

/// Requests in flight: one wildcard subscription on a random inbox, a token per request.
/// A class: completions may start new requests while one is being completed.
final class NATSRequests {
    let inboxPrefix: String
    var inboxSID: UInt64?
    private var pending: [String: (completion: (Result<NATSReply, NATSRequestError>) -> Void, timer: Timer)] = [:]
    private var nextToken: UInt64 = 1

    init() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
        inboxPrefix = "_INBOX." + String((0..<22).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] }) + "."
    }

    func add(timeout: UInt64, loop: EventLoop,
                      completion: @escaping (Result<NATSReply, NATSRequestError>) -> Void) -> String {
        let token = String(nextToken)
        nextToken += 1
        let timer = loop.schedule(after: timeout) { [unowned self] in self.fail(token, .timedOut) }
        pending[token] = (completion, timer)
        return token
    }

    /// A message on the inbox: completes its request, if still waiting.
    func complete(_ message: NATSMessage) {
        let subject = message.subject
        guard subject.count > inboxPrefix.utf8.count else { return }
        let token = String(decoding: subject[inboxPrefix.utf8.count...], as: UTF8.self)
        guard let entry = pending.removeValue(forKey: token) else { return }
        entry.timer.cancel()
        let headers = message.headers.flatMap(NATSHeaders.init)
        if headers?.status == 503 {
            entry.completion(.failure(.noResponders))
        } else {
            entry.completion(.success(NATSReply(headers: headers, payload: Array(message.payload))))
        }
    }

    func fail(_ token: String, _ error: NATSRequestError) {
        guard let entry = pending.removeValue(forKey: token) else { return }
        entry.timer.cancel()
        entry.completion(.failure(error))
    }

    func failAll(_ error: NATSRequestError) {
        let all = pending
        pending.removeAll()
        for (_, entry) in all.sorted(by: { $0.key < $1.key }) {
            entry.timer.cancel()
            entry.completion(.failure(error))
        }
    }
}
