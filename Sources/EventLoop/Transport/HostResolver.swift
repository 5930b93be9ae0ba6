import CShims
import Glibc

/// Resolves a host name without blocking the loop: glibc's getaddrinfo_a runs the lookup in
/// the background and a timer polls it. A literal address resolves at once (still reported
/// from the loop, so callers see one shape of completion).
public final class HostResolver {
    private unowned let loop: EventLoop
    /// Lookups that were abandoned (timed out or cancelled) while glibc still ran them: freed
    /// once glibc lets go of them.
    private var abandoned: [OpaquePointer] = []
    private static let pollInterval: UInt64 = 5_000_000

    public init(loop: EventLoop) { self.loop = loop }

    /// One lookup in flight; `cancel` drops its completion.
    public final class Lookup {
        fileprivate var completion: ((Result<SocketAddress, SystemError>) -> Void)?
        fileprivate var timer: Timer?
        fileprivate var handle: OpaquePointer?

        /// The completion will not be called; a lookup still running is let go at its next poll.
        public func cancel() {
            completion = nil
            if handle == nil { timer?.cancel() }
        }
    }

    /// Calls `completion` on the loop with the first address of `host`, or an error naming the
    /// host after `timeout` nanoseconds or when the lookup fails.
    @discardableResult
    public func resolve(_ host: String, port: Int, timeout: UInt64,
                        completion: @escaping (Result<SocketAddress, SystemError>) -> Void) -> Lookup {
        let lookup = Lookup()
        lookup.completion = completion
        reapAbandoned()
        if let literal = SocketAddress(host: host, port: port) {
            lookup.timer = loop.schedule(after: 0) { Self.finish(lookup, .success(literal)) }
            return lookup
        }
        guard let handle = ts_resolve_start(host, Int32(port)) else {
            lookup.timer = loop.schedule(after: 0) {
                Self.finish(lookup, .failure(SystemError("resolve \(host): could not start the lookup", errno: EAGAIN)))
            }
            return lookup
        }
        lookup.handle = handle
        let deadline = loop.now &+ timeout
        // The timer holds the lookup until it finishes; `abandon` cancels the timer.
        lookup.timer = loop.scheduleRepeating(every: Self.pollInterval) { [unowned self] in
            guard let handle = lookup.handle else { return }
            var storage = sockaddr_storage()
            var length = socklen_t(0)
            let status = ts_resolve_poll(handle, &storage, &length)
            if status == 1 {
                guard self.loop.now >= deadline || lookup.completion == nil else { return }
                self.abandon(lookup)
                Self.finish(lookup, .failure(SystemError("resolve \(host): no answer within \(timeout / 1_000_000) ms", errno: ETIMEDOUT)))
                return
            }
            self.abandon(lookup)
            if status == 0 {
                Self.finish(lookup, .success(SocketAddress(storage: storage, length: length)))
            } else {
                let text = String(cString: ts_resolve_error_text(status))
                Self.finish(lookup, .failure(SystemError("resolve \(host): \(text)", errno: ENOENT)))
            }
        }
        return lookup
    }

    private func abandon(_ lookup: Lookup) {
        lookup.timer?.cancel()
        if let handle = lookup.handle {
            lookup.handle = nil
            if ts_resolve_free(handle) == 0 { abandoned.append(handle) }
        }
    }

    private func reapAbandoned() {
        abandoned.removeAll { ts_resolve_free($0) == 1 }
    }

    private static func finish(_ lookup: Lookup, _ result: Result<SocketAddress, SystemError>) {
        guard let completion = lookup.completion else { return }
        lookup.completion = nil
        lookup.timer?.cancel()
        completion(result)
    }
}
