import Glibc

/// Reads a small configuration file whole (flags, credentials): bounded, so a wrong path to a
/// large file is an error, not a memory spike. Cold path only.
public enum SmallFile {
    /// The file's bytes, or why not (`path: reason`).
    public static func read(_ path: String, maxBytes: Int) -> Result<[UInt8], SmallFileError> {
        guard let file = fopen(path, "r") else { return .failure(SmallFileError("\(path): \(String(cString: strerror(errno)))")) }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = fread(&chunk, 1, chunk.count, file)
            if n == 0 { break }
            bytes += chunk[0..<n]
            guard bytes.count <= maxBytes else { return .failure(SmallFileError("\(path): larger than \(maxBytes) bytes")) }
        }
        if ferror(file) != 0 { return .failure(SmallFileError("\(path): \(String(cString: strerror(errno)))")) }
        return .success(bytes)
    }
}

/// Why a small file could not be read, naming the file.
public struct SmallFileError: Error, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
