import Foundation
public import SyncCore

/// Everything a sync must reproduce about a tree, for comparing two trees in tests:
/// every path with its kind, size, mtime (nanoseconds), permissions, content or link target.
public struct TreeSnapshot: Equatable, CustomStringConvertible, Sendable {
    public struct Item: Equatable, Sendable {
        public var kind: EntryKind
        public var size: Int64
        public var modified: Timestamp?
        public var permissions: UInt32
        public var content: [UInt8]?
    }

    public var items: [RelativePath: Item]

    /// Reads a tree. Directory mtimes are left out unless `directoryTimes` is set (the root's never counts).
    public init(_ root: String, directoryTimes: Bool = false, ignoring: (RelativePath) -> Bool = { _ in false }) throws {
        items = [:]
        try Self.walk(root, .root, directoryTimes: directoryTimes, ignoring: ignoring, into: &items)
    }

    private static func walk(
        _ root: String, _ directory: RelativePath, directoryTimes: Bool, ignoring: (RelativePath) -> Bool, into items: inout [RelativePath: Item]
    ) throws {
        let path = TemporaryTree.path(root, directory)
        guard let stream = TemporaryTree.withCPath(path, { opendir($0) }) else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { closedir(stream) }
        var names: [[UInt8]] = []
        while let record = readdir(stream) {
            let name = withUnsafeBytes(of: record.pointee.d_name) { raw in Array(raw.prefix(while: { $0 != 0 })) }
            if name == [0x2E] || name == [0x2E, 0x2E] { continue }
            names.append(name)
        }
        for name in names {
            let relative = directory.appending(name)
            if ignoring(relative) { continue }
            var info = stat()
            guard TemporaryTree.withCPath(TemporaryTree.path(root, relative), { lstat($0, &info) }) == 0 else { continue }
            let modified = Timestamp(seconds: Int64(info.st_mtim.tv_sec), nanoseconds: Int64(info.st_mtim.tv_nsec))
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                items[relative] = Item(
                    kind: .directory, size: 0, modified: directoryTimes ? modified : nil, permissions: UInt32(info.st_mode & 0o7777))
                try walk(root, relative, directoryTimes: directoryTimes, ignoring: ignoring, into: &items)
            case S_IFLNK:
                var buffer = [UInt8](repeating: 0, count: 4096)
                let count = TemporaryTree.withCPath(TemporaryTree.path(root, relative)) { cPath in
                    buffer.withUnsafeMutableBufferPointer { $0.withMemoryRebound(to: CChar.self) { readlink(cPath, $0.baseAddress!, 4096) } }
                }
                items[relative] = Item(
                    kind: .symlink, size: Int64(info.st_size), modified: modified, permissions: 0, content: Array(buffer[..<max(0, count)]))
            case S_IFREG:
                items[relative] = Item(
                    kind: .file, size: Int64(info.st_size), modified: modified, permissions: UInt32(info.st_mode & 0o7777),
                    content: try TemporaryTree.read(root, relative))
            default:
                items[relative] = Item(kind: .other, size: 0, modified: modified, permissions: UInt32(info.st_mode & 0o7777))
            }
        }
    }

    public var description: String {
        items.keys.sorted().map { "\($0.escaped) \(items[$0]!.kind) \(items[$0]!.size)" }.joined(separator: "\n")
    }

    /// Paths whose items differ between two snapshots, for readable failures.
    public func differences(from other: TreeSnapshot) -> [String] {
        let paths = Set(items.keys).union(other.items.keys).sorted()
        return paths.compactMap { path in
            let lhs = items[path]
            let rhs = other.items[path]
            guard lhs != rhs else { return nil }
            return
                "\(path.escaped): \(lhs.map { "\($0.kind) \($0.size) \($0.modified?.description ?? "")" } ?? "missing") vs \(rhs.map { "\($0.kind) \($0.size) \($0.modified?.description ?? "")" } ?? "missing")"
        }
    }
}
