import ByteBuffers

/// One server of `--bus nats://[user:password@|token@]host:port` (or `tls://…`).
public struct NATSServerURL: Sendable, Equatable, CustomStringConvertible {
    public let host: String
    public let port: Int
    public let user: String?
    public let password: String?
    /// `nats://TOKEN@host`: a token in place of a user.
    public let token: String?
    /// `tls://`: the connection must be TLS (a server that requires TLS gets it either way).
    public let tls: Bool

    /// The URL without its credentials, for logs.
    public var description: String { "\(tls ? "tls" : "nats")://\(host.contains(":") ? "[\(host)]" : host):\(port)" }

    /// The same host and port (the same server, whatever the credentials).
    public func sameServer(as other: NATSServerURL) -> Bool { host == other.host && port == other.port }

    /// Parses a comma-separated list; the error names the entry and what is wrong with it.
    public static func parseList(_ text: String) -> Result<[NATSServerURL], NATSURLError> {
        let entries = text.split(separator: ",").map { String($0).trimmingBlanks() }.filter { !$0.isEmpty }
        guard !entries.isEmpty else { return .failure(NATSURLError(entry: text, reason: "no server given")) }
        var servers: [NATSServerURL] = []
        for entry in entries {
            switch parse(entry) {
            case .success(let server): servers.append(server)
            case .failure(let error): return .failure(error)
            }
        }
        return .success(servers)
    }

    /// `nats://host:port` or `tls://host:port`; the scheme may be omitted (nats) and the port
    /// defaults to 4222.
    public static func parse(_ entry: String) -> Result<NATSServerURL, NATSURLError> {
        func fail(_ reason: String) -> Result<NATSServerURL, NATSURLError> { .failure(NATSURLError(entry: redacted(entry), reason: reason)) }
        var rest = Substring(entry)
        var tls = false
        if let schemeEnd = rest.firstRange(of: "://") {
            let scheme = rest[..<schemeEnd.lowerBound].lowercased()
            guard scheme == "nats" || scheme == "tls" else { return fail("the scheme must be nats:// or tls://") }
            tls = scheme == "tls"
            rest = rest[schemeEnd.upperBound...]
        }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.contains("/") else { return fail("a NATS URL has no path") }
        var user: String?
        var password: String?
        var token: String?
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                user = percentDecoded(credentials[..<colon])
                password = percentDecoded(credentials[credentials.index(after: colon)...])
            } else {
                token = percentDecoded(credentials)
            }
            guard !(user ?? token ?? "").isEmpty else { return fail("empty credentials before @") }
        }
        var host: Substring
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return fail("unclosed [ in an IPv6 address") }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return fail("unexpected text after ]") }
                portText = after.dropFirst()
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        } else {
            host = rest
        }
        guard !host.isEmpty else { return fail("no host") }
        guard host.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == ":" || $0 == "_" }) else {
            return fail("invalid host \"\(host)\"")
        }
        var port = 4222
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else { return fail("the port must be 1...65535") }
            port = value
        }
        return .success(NATSServerURL(host: String(host), port: port, user: user, password: password, token: token, tls: tls))
    }

    public init(host: String, port: Int, user: String? = nil, password: String? = nil, token: String? = nil, tls: Bool = false) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.token = token
        self.tls = tls
    }

    /// The entry with any credentials masked, for error messages.
    static func redacted(_ entry: String) -> String {
        guard let at = entry.lastIndex(of: "@") else { return entry }
        let schemeEnd = entry.firstRange(of: "://")?.upperBound ?? entry.startIndex
        return String(entry[..<schemeEnd]) + "***" + String(entry[at...])
    }

    private static func percentDecoded(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%"), let high = iterator.next(), let low = iterator.next(),
               let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16) {
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A `--bus` entry that is not a NATS server URL.
public struct NATSURLError: Error, Equatable, CustomStringConvertible {
    public let entry: String
    public let reason: String
    public var description: String { "\(entry): \(reason)" }
}
