import ByteBuffers
import Flags

/// `--flags-file`: the flags of an instance without a bus, read at start, on SIGHUP and on
/// POST /admin/reload-flags. A file that cannot be read or parsed is refused whole.
enum FlagsFile {
    /// Files larger than this are not flags files.
    static let maxBytes = 1 << 20

    static func read(_ path: String) -> Result<[String: FeatureFlag], FlagError> {
        let bytes: [UInt8]
        switch SmallFile.read(path, maxBytes: maxBytes) {
        case .success(let read): bytes = read
        case .failure(let error): return .failure(FlagError(error.description))
        }
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
