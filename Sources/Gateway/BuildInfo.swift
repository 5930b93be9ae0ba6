/// What this binary is, for `gateway --version`, the start-up log and `tickstream_build_info`.
public enum BuildInfo {
    /// The release, raised with each change that users see (semantic versioning).
    public static let version = "0.7.0"

    /// The Swift compiler that built it.
    public static var swiftVersion: String {
        #if compiler(>=6.4)
        return "6.4+"
        #elseif compiler(>=6.3)
        return "6.3"
        #elseif compiler(>=6.2)
        return "6.2"
        #else
        return "older than 6.2"
        #endif
    }
}
