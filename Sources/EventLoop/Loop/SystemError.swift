import Glibc

/// A failed system call: which call, and errno.
public struct SystemError: Error, CustomStringConvertible, Sendable {
    public let call: String
    public let errno: Int32

    public init(_ call: String, errno: Int32 = Glibc.errno) {
        self.call = call
        self.errno = errno
    }

    public var description: String { "\(call): \(String(validatingCString: strerror(errno)) ?? "unknown error") (errno \(errno))" }
}
