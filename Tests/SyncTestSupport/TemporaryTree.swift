import Foundation
public import SyncCore

/// A scratch directory for tests, with helpers that take byte names (so tests can create
/// names that are not valid UTF-8). Removed when the value is deinitialised.
public final class TemporaryTree: @unchecked Sendable {
    public let root: String

    public init(_ label: String = "tree") throws {
        let template = FileManager.default.temporaryDirectory.path + "/ha-sync-\(label)-XXXXXX"
        var bytes = Array(template.utf8CString)
        guard let made = mkdtemp(&bytes) else { throw POSIXError(.EIO) }
        root = String(cString: made)
    }

    deinit {
        // Undo permission changes tests made, then remove everything.
        _ = try? Process.run(URL(fileURLWithPath: "/bin/chmod"), arguments: ["-R", "u+rwx", root]).waitUntilExit()
        try? FileManager.default.removeItem(atPath: root)
    }

    /// A subdirectory path (created).
    public func directory(_ name: String) throws -> String {
        let path = root + "/" + name
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// The absolute path of `relative` below `base`, as bytes (NUL-terminated when used).
    public static func path(_ base: String, _ relative: RelativePath) -> [UInt8] {
        relative.isRoot ? Array(base.utf8) : Array(base.utf8) + [UInt8(ascii: "/")] + relative.bytes
    }

    /// Writes a file (creating parent directories), optionally with an mtime.
    @discardableResult
    public static func write(_ base: String, _ relative: RelativePath, _ content: [UInt8], modified: Timestamp? = nil) throws -> String {
        try makeDirectories(base, relative.parent)
        let path = Self.path(base, relative)
        let descriptor = withCPath(path) { open($0, O_WRONLY | O_CREAT | O_TRUNC, 0o644) }
        guard descriptor >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(descriptor) }
        var offset = 0
        while offset < content.count {
            let written = content[offset...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            guard written > 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            offset += written
        }
        if let modified { try setModified(base, relative, modified) }
        return String(decoding: path, as: UTF8.self)
    }

    public static func write(_ base: String, _ relative: String, _ text: String, modified: Timestamp? = nil) throws {
        try write(base, RelativePath(relative), Array(text.utf8), modified: modified)
    }

    public static func makeDirectories(_ base: String, _ relative: RelativePath) throws {
        guard !relative.isRoot else { return }
        var current = RelativePath.root
        for component in relative.bytes.split(separator: UInt8(ascii: "/")) {
            current = current.appending(Array(component))
            let result = withCPath(path(base, current)) { mkdir($0, 0o755) }
            if result != 0 && errno != EEXIST { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        }
    }

    public static func symlink(_ base: String, _ relative: RelativePath, target: String, modified: Timestamp? = nil) throws {
        try makeDirectories(base, relative.parent)
        let result = withCPath(path(base, relative)) { Glibc.symlink(target, $0) }
        guard result == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        if let modified { try setModified(base, relative, modified) }
    }

    public static func setModified(_ base: String, _ relative: RelativePath, _ modified: Timestamp) throws {
        var times = [
            timespec(tv_sec: Int(modified.seconds), tv_nsec: Int(modified.nanoseconds)),
            timespec(tv_sec: Int(modified.seconds), tv_nsec: Int(modified.nanoseconds)),
        ]
        let result = withCPath(path(base, relative)) { utimensat(AT_FDCWD, $0, &times, AT_SYMLINK_NOFOLLOW) }
        guard result == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    }

    public static func read(_ base: String, _ relative: RelativePath) throws -> [UInt8] {
        let descriptor = withCPath(path(base, relative)) { open($0, O_RDONLY) }
        guard descriptor >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(descriptor) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            result.append(contentsOf: buffer[..<count])
        }
        return result
    }

    public static func exists(_ base: String, _ relative: RelativePath) -> Bool {
        var info = stat()
        return withCPath(path(base, relative)) { lstat($0, &info) } == 0
    }

    public static func withCPath<R>(_ path: [UInt8], _ body: (UnsafePointer<CChar>) -> R) -> R {
        (path + [0]).withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { body($0.baseAddress!) } }
    }
}
