import Glibc

/// Files the load test writes after a run (`--report`, `--json`), checked before it starts.
enum OutputFile {
    /// Why `path` could not be written, or nil: its folder must exist and be writable, and an
    /// existing file must be writable and not a folder.
    static func problem(writing path: String) -> String? {
        var status = stat()
        if stat(path, &status) == 0 {
            if status.st_mode & S_IFMT == S_IFDIR { return "it is a folder" }
            return access(path, W_OK) == 0 ? nil : String(cString: strerror(errno))
        }
        let folder = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        guard stat(folder.isEmpty ? "/" : folder, &status) == 0 else { return "folder \(folder): \(String(cString: strerror(errno)))" }
        guard status.st_mode & S_IFMT == S_IFDIR else { return "\(folder) is not a folder" }
        return access(folder.isEmpty ? "/" : folder, W_OK) == 0 ? nil : "folder \(folder): \(String(cString: strerror(errno)))"
    }
}
