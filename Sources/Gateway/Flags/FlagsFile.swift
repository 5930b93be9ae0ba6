import Flags
import Glibc

/// `--flags-file`: the flags of an instance without a bus, read at start, on SIGHUP and on
/// POST /admin/reload-flags. A file that cannot be read or parsed is refused whole.
enum FlagsFile {
    /// Files larger than this are not flags files.
    static let maxBytes = 1 << 20

    static func read(_ path: String) -> Result<[String: FeatureFlag], FlagError> {
        guard let file = fopen(path, "r") else { return .failure(FlagError("\(path): \(String(cString: strerror(errno)))")) }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = fread(&chunk, 1, chunk.count, file)
            if n == 0 { break }
            bytes += chunk[0..<n]
            guard bytes.count <= maxBytes else { return .failure(FlagError("\(path): larger than \(maxBytes) bytes")) }
        }
        if ferror(file) != 0 { return .failure(FlagError("\(path): read error")) }
        return bytes.withUnsafeBytes { FlagCodec.decodeFile($0) }.mapError { FlagError("\(path): \($0.description)") }
    }

    /// Reads the file into `book`; false (and a log line, the old flags kept) when refused.
    @discardableResult
    static func load(_ path: String, into book: FlagBook, trigger: String) -> Bool {
        switch read(path) {
        case .success(let flags):
            book.replaceAll(flags, trigger: trigger)
            return true
        case .failure(let error):
            book.refuse(error, trigger: trigger)
            return false
        }
    }
}
