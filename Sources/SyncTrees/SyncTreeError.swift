public import SyncCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A failed operation on a tree (the local file system, memory, later a remote peer), with a
/// code to decide on and a message fit for a user. `errno` is set only for system calls.
public struct SyncTreeError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        case notFound
        case permissionDenied
        case noSpace
        case notADirectory
        case alreadyExists
        case notEmpty
        case symlinkInPath
        case sourceChanged
        /// The entry a write was about to replace changed since it was listed.
        case targetChanged
        case verificationFailed
        case interrupted
        case unsupported
        case io
    }

    public var code: Code
    /// The system call or step that failed ("open", "copy", "rename"...).
    public var operation: String
    public var path: RelativePath?
    public var errno: Int32?
    /// Extra detail, already fit for a user.
    public var detail: String?

    /// The operation name of a failure to open the source of a copy: with ``Code/notFound`` it
    /// means the file vanished since it was listed.
    public static let openSource = "open source"

    public init(code: Code, operation: String, path: RelativePath?, errno: Int32? = nil, detail: String? = nil) {
        self.code = code
        self.operation = operation
        self.path = path
        self.errno = errno
        self.detail = detail
    }

    /// An error from the current `errno` of a failed system call.
    public static func system(_ operation: String, _ path: RelativePath?, errno given: Int32? = nil) -> SyncTreeError {
        let value = given ?? Glibc.errno
        let code: Code =
            switch value {
            case ENOENT: .notFound
            case EACCES, EPERM, EROFS: .permissionDenied
            case ENOSPC, EDQUOT: .noSpace
            case ENOTDIR: .notADirectory
            case EEXIST: .alreadyExists
            case ENOTEMPTY: .notEmpty
            case ELOOP, EXDEV: .symlinkInPath
            default: .io
            }
        return SyncTreeError(code: code, operation: operation, path: path, errno: value)
    }

    /// The one-line message shown to users and stored in the audit trail.
    public var message: String { description }

    public var description: String {
        var text = operation
        if let path { text += " '\(path.isRoot ? "." : path.escaped)'" }
        if let detail { text += ": \(detail)" }
        if let errno {
            text += ": \(String(cString: strerror(errno)))"
            if code == .symlinkInPath { text += " (a symlink in the path is never followed)" }
        }
        return text
    }
}
