/// permessage-deflate negotiation (RFC 7692 §5, §7.1) for both roles.
///
/// Tickstream's server always answers with `server_no_context_takeover` (each message is
/// compressed alone, so one compressed frame can go to every subscriber) and
/// `client_no_context_takeover` (each client message is inflated alone, so a connection keeps
/// no inflate window). Both are allowed in a response whether or not the offer named them.
public enum DeflateNegotiation {
    public static let extensionName = "permessage-deflate"

    /// The server's choice among the client's offers.
    public enum ServerOutcome: Sendable, Equatable {
        /// The first acceptable offer, with what the response says.
        case accept(DeflateParameters)
        /// No offer of permessage-deflate was acceptable (or none was made): no compression.
        case none
        /// The header is not a valid extension list: refuse the handshake with 400.
        case malformed(String)
    }

    /// Picks the first acceptable permessage-deflate offer from the request's
    /// `Sec-WebSocket-Extensions` values. An offer with an unknown or repeated parameter, or an
    /// invalid value, is declined (RFC 7692 §5) and the next one considered. An offer that
    /// limits our window to 2^8 is declined too: zlib cannot compress within 256 bytes.
    public static func negotiate(offers headerValues: [String]) -> ServerOutcome {
        guard !headerValues.isEmpty else { return .none }
        guard let list = ExtensionList(headerValues) else {
            return .malformed("Sec-WebSocket-Extensions is not a valid extension list")
        }
        for offer in list.extensions where offer.name.lowercased() == extensionName {
            if let accepted = accept(offer) { return .accept(accepted) }
        }
        return .none
    }

    private static func accept(_ offer: ExtensionList.Extension) -> DeflateParameters? {
        var agreed = DeflateParameters(serverNoContextTakeover: true, clientNoContextTakeover: true)
        var seen = Set<String>()
        for (name, value) in offer.parameters {
            guard seen.insert(name).inserted else { return nil }
            switch name {
            case "server_no_context_takeover", "client_no_context_takeover":
                guard value == nil else { return nil }
            case "server_max_window_bits":
                guard let value, let bits = windowBits(value), bits >= 9 else { return nil }
                agreed.serverMaxWindowBits = bits
            case "client_max_window_bits":
                // A hint that the client can limit its window; with no context takeover the
                // window does not outlive a message, so we do not ask for a smaller one.
                if let value { guard windowBits(value) != nil else { return nil } }
            default:
                return nil
            }
        }
        return agreed
    }

    /// 8...15 written without leading zeros (RFC 7692 §7.1.2.1), or nil.
    static func windowBits(_ value: String) -> Int? {
        guard let bits = Int(value), (8...15).contains(bits), String(bits) == value else { return nil }
        return bits
    }

    // MARK: Client

    /// What a client offers: deflate, promising to reset its compressor per message (so the
    /// server keeps no window for it) and accepting a window limit.
    public static let clientOffer = "permessage-deflate; client_no_context_takeover; client_max_window_bits"

    /// Checks the server's answer to `clientOffer` (RFC 7692 §7.1: the client fails the
    /// connection on a response it did not allow). nil means the server declined compression.
    public static func clientAccept(response headerValues: [String]) -> Result<DeflateParameters?, DeflateResponseError> {
        guard !headerValues.isEmpty else { return .success(nil) }
        guard let list = ExtensionList(headerValues) else { return .failure(DeflateResponseError("malformed Sec-WebSocket-Extensions")) }
        guard list.extensions.count == 1, list.extensions[0].name.lowercased() == extensionName else {
            return .failure(DeflateResponseError("the server accepted an extension that was not offered"))
        }
        var agreed = DeflateParameters(clientNoContextTakeover: true)
        var seen = Set<String>()
        for (name, value) in list.extensions[0].parameters {
            guard seen.insert(name).inserted else { return .failure(DeflateResponseError("\(name) repeated")) }
            switch name {
            case "server_no_context_takeover":
                guard value == nil else { return .failure(DeflateResponseError("\(name) takes no value")) }
                agreed.serverNoContextTakeover = true
            case "client_no_context_takeover":
                guard value == nil else { return .failure(DeflateResponseError("\(name) takes no value")) }
            case "server_max_window_bits", "client_max_window_bits":
                guard let value, let bits = windowBits(value) else {
                    return .failure(DeflateResponseError("\(name) needs a value 8...15"))
                }
                if name == "server_max_window_bits" { agreed.serverMaxWindowBits = bits } else { agreed.clientMaxWindowBits = bits }
            default:
                return .failure(DeflateResponseError("unknown permessage-deflate parameter \(name)"))
            }
        }
        return .success(agreed)
    }
}

/// A server's permessage-deflate response the client must refuse.
public struct DeflateResponseError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
