import Glibc

/// Writes straight to a file descriptor (the C `stderr` global is not concurrency-safe).
func write(_ text: String, to descriptor: Int32) {
    var bytes = Array(text.utf8)
    _ = bytes.withUnsafeMutableBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
}

public func writeToStandardError(_ text: String) { write(text, to: 2) }
public func writeToStandardOutput(_ text: String) { write(text, to: 1) }
