/// Which web pages may open WebSockets here (`--allowed-origins`). Browsers always send
/// `Origin` on a WebSocket handshake and scripts cannot forge it, so this is what stops a page
/// on another site from using a visitor's browser (and its network position) to read the feed.
/// Non-browser clients usually send no `Origin` and are not affected.
public struct OriginPolicy: Sendable {
    /// Origins allowed exactly, lowercased: `https://desk.example.com`, `http://localhost:8080`.
    private let exact: Set<String>
    /// `https://*.example.com` allows any subdomain of example.com over https (not the bare
    /// domain): kept as the scheme with `://` and the suffix from the dot on.
    private let wildcards: [(scheme: String, suffix: String)]

    /// Parses a list of origins; the error names the first entry that is not an origin.
    public init(_ origins: [String]) throws(OriginPolicyError) {
        var exact: Set<String> = []
        var wildcards: [(String, String)] = []
        for entry in origins {
            let origin = entry.lowercased()
            guard let schemeEnd = origin.firstRange(of: "://"),
                  ["http", "https"].contains(origin[..<schemeEnd.lowerBound]) else {
                throw OriginPolicyError(entry: entry, reason: "an origin starts with http:// or https://")
            }
            let host = origin[schemeEnd.upperBound...]
            guard !host.isEmpty, !host.contains("/"), !host.contains("?"), !host.contains("#") else {
                throw OriginPolicyError(entry: entry, reason: "an origin is scheme://host[:port], without a path")
            }
            if host.hasPrefix("*.") {
                let suffix = host.dropFirst(1)
                guard suffix.count > 1, !suffix.dropFirst().contains("*") else {
                    throw OriginPolicyError(entry: entry, reason: "a wildcard is *.domain")
                }
                wildcards.append((String(origin[..<schemeEnd.upperBound]), String(suffix)))
            } else {
                guard !host.contains("*") else { throw OriginPolicyError(entry: entry, reason: "a wildcard is *.domain") }
                exact.insert(origin)
            }
        }
        self.exact = exact
        self.wildcards = wildcards
    }

    /// Whether a handshake's `Origin` value may connect. ("null", sent by sandboxed frames and
    /// file:// pages, is allowed only if listed.)
    func allows(_ origin: String) -> Bool {
        let lowered = origin.lowercased()
        if exact.contains(lowered) { return true }
        return wildcards.contains { wildcard in
            guard lowered.hasPrefix(wildcard.scheme), lowered.hasSuffix(wildcard.suffix) else { return false }
            let host = lowered.dropFirst(wildcard.scheme.count).dropLast(wildcard.suffix.count)
            return !host.isEmpty && !host.contains("/")
        }
    }
}

/// An `--allowed-origins` entry that is not an origin.
public struct OriginPolicyError: Error, CustomStringConvertible {
    public let entry: String
    public let reason: String
    public var description: String { "\"\(entry)\" is not an allowed origin: \(reason)" }
}
