public import SyncCore

/// The check every path from a client passes before the server touches its tree.
///
/// The tree itself refuses symlinks and `..` at the system-call level (`openat2` with
/// `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`); refusing malformed paths here as well gives a
/// hostile client a clear "bad request" instead of a file-system error, and keeps NUL bytes
/// away from C strings.
public enum RemotePath {
    /// Returns the path if it is relative, non-empty in every component, free of `.`, `..`
    /// and NUL bytes; throws ``RemotePathError`` otherwise. The empty path is the root.
    public static func validate(_ bytes: [UInt8]) throws -> RelativePath {
        if bytes.isEmpty { return .root }
        guard bytes.count <= 4096 else { throw RemotePathError(reason: "path longer than 4096 bytes") }
        guard bytes.first != UInt8(ascii: "/") else { throw RemotePathError(reason: "absolute path") }
        guard !bytes.contains(0) else { throw RemotePathError(reason: "NUL byte in path") }
        for component in bytes.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
            if component.isEmpty { throw RemotePathError(reason: "empty path component") }
            if component.elementsEqual([UInt8(ascii: ".")]) || component.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) {
                throw RemotePathError(reason: "'.' or '..' in path")
            }
            if component.count > 255 { throw RemotePathError(reason: "name longer than 255 bytes") }
        }
        return RelativePath(unchecked: bytes)
    }
}

/// A path a client sent that could point outside its root.
public struct RemotePathError: Error, Sendable, CustomStringConvertible, Equatable {
    public var reason: String

    public init(reason: String) {
        self.reason = reason
    }

    public var description: String { "refused path: \(reason)" }
}
