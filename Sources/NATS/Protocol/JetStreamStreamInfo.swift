import ByteBuffers

/// What the gateway reads from a JetStream stream info reply (`$JS.API.STREAM.INFO.<stream>`).
public enum JetStreamStreamInfo {
    /// The subjects of `"state":{"subjects":{"md.AAPL":1,...}}`, as a reply to a request with a
    /// `subjects_filter` carries them; nil when the reply has no subjects map.
    public static func subjects(_ payload: [UInt8]) -> [String]? {
        var subjects: [String]?
        payload.withUnsafeBytes { bytes in
            var reader = JSONReader(bytes)
            try? reader.readObject { reader, key in
                guard bytesEqual(key, "state"), reader.peekValueStart() == UInt8(ascii: "{") else { return try reader.skipValue() }
                try reader.readObject { reader, key in
                    guard bytesEqual(key, "subjects"), reader.peekValueStart() == UInt8(ascii: "{") else { return try reader.skipValue() }
                    var found: [String] = []
                    try reader.readObject { reader, subject in
                        found.append(String(decoding: subject, as: UTF8.self))
                        try reader.skipValue()
                    }
                    subjects = found
                }
            }
        }
        return subjects
    }
}
