public import SyncCore
import Synchronization

/// A tree held in memory, for tests of the engine and the runner without a disk.
///
/// It keeps the contract of ``SyncTree``: listings sorted by name bytes, atomic file writes
/// (the new content appears whole, at the rename), a reader that notices a change made after
/// it opened the file. Failures can be injected per path and operation.
public final class InMemoryTree: StagingSyncTree {
    /// One stored object.
    public struct Node: Sendable, Hashable {
        public var kind: EntryKind
        public var contents: [UInt8]
        public var modified: Timestamp
        public var permissions: UInt32
        public var symlinkTarget: [UInt8]?
        /// Bumped on every change, like a change time.
        var version: Int

        public init(kind: EntryKind, contents: [UInt8] = [], modified: Timestamp, permissions: UInt32 = 0o644, symlinkTarget: [UInt8]? = nil) {
            self.kind = kind
            self.contents = contents
            self.modified = modified
            self.permissions = permissions
            self.symlinkTarget = symlinkTarget
            self.version = 0
        }
    }

    /// Operations a failure can be injected into.
    public enum FaultPoint: Sendable, Hashable {
        case list, open, write, remove
    }

    private struct State {
        var nodes: [RelativePath: Node] = [:]
        /// Complete copies waiting to be published (`--delay-updates`), by folder and temporary name.
        var staged: [RelativePath: Node] = [:]
        var faults: [FaultKey: SyncTreeError.Code] = [:]
        var nextVersion = 1
        var writes = 0

        func check(_ point: FaultPoint, _ path: RelativePath, operation: String) throws {
            if let code = faults[FaultKey(point: point, path: path)] {
                throw SyncTreeError(code: code, operation: operation, path: path, detail: "injected fault")
            }
        }
    }

    private struct FaultKey: Hashable {
        var point: FaultPoint
        var path: RelativePath
    }

    public let displayName: String
    private let state = Mutex(State())

    public init(name: String = "memory") {
        self.displayName = name
    }

    // MARK: Setting up and inspecting (tests)

    /// Puts a file at `path`, creating missing parent directories.
    public func setFile(_ path: String, _ contents: String, modified: Timestamp, permissions: UInt32 = 0o644) {
        set(RelativePath(path), Node(kind: .file, contents: Array(contents.utf8), modified: modified, permissions: permissions))
    }

    /// Puts a directory at `path`, creating missing parents.
    public func setDirectory(_ path: String, modified: Timestamp = Timestamp(seconds: 0), permissions: UInt32 = 0o755) {
        set(RelativePath(path), Node(kind: .directory, modified: modified, permissions: permissions))
    }

    /// Puts a symlink at `path`, creating missing parents.
    public func setSymlink(_ path: String, target: String, modified: Timestamp) {
        let bytes = Array(target.utf8)
        set(RelativePath(path), Node(kind: .symlink, modified: modified, permissions: 0o777, symlinkTarget: bytes))
    }

    /// Stores a node as is, creating missing parent directories.
    public func set(_ path: RelativePath, _ node: Node) {
        state.withLock { state in
            var parent = path.parent
            while !parent.isRoot && state.nodes[parent] == nil {
                state.nodes[parent] = Node(kind: .directory, modified: Timestamp(seconds: 0), permissions: 0o755)
                parent = parent.parent
            }
            var node = node
            node.version = state.nextVersion
            state.nextVersion += 1
            state.nodes[path] = node
        }
    }

    /// The node at `path`, if any.
    public func node(at path: String) -> Node? {
        state.withLock { $0.nodes[RelativePath(path)] }
    }

    /// The content of the file at `path` as text, if there is one.
    public func text(at path: String) -> String? {
        node(at: path).map { String(decoding: $0.contents, as: UTF8.self) }
    }

    /// Every path in the tree, sorted.
    public var paths: [RelativePath] {
        state.withLock { Array($0.nodes.keys) }.sorted()
    }

    /// How many files were written into the tree.
    public var writeCount: Int {
        state.withLock { $0.writes }
    }

    /// Makes `point` fail with `code` at `path` until cleared with `nil`.
    public func inject(_ code: SyncTreeError.Code?, at point: FaultPoint, path: String) {
        state.withLock { $0.faults[FaultKey(point: point, path: RelativePath(path))] = code }
    }

    // MARK: SyncTree

    public var stagesCopies: Bool { true }

    public func publishStaged(_ temporaryName: [UInt8], as path: RelativePath) throws {
        try state.withLock { state in
            try state.check(.write, path, operation: "rename into place")
            guard let node = state.staged.removeValue(forKey: path.parent.appending(temporaryName)) else {
                throw SyncTreeError(code: .notFound, operation: "rename into place", path: path, detail: "no staged copy")
            }
            state.nodes[path] = node
            state.writes += 1
        }
    }

    public func list(_ directory: RelativePath) throws -> DirectoryListing {
        try state.withLock { state in
            try state.check(.list, directory, operation: "list")
            if !directory.isRoot {
                guard let node = state.nodes[directory] else {
                    throw SyncTreeError(code: .notFound, operation: "list", path: directory)
                }
                guard node.kind == .directory else { throw SyncTreeError(code: .notADirectory, operation: "list", path: directory) }
            }
            var listing = DirectoryListing()
            for (path, node) in state.nodes where !path.isRoot && path.parent == directory {
                let name = path.lastComponent
                if TemporaryName.matches(name) {
                    listing.temporaryFiles.append(name)
                    continue
                }
                listing.entries.append(node.entry(name: name))
            }
            listing.entries.sort { $0.name.lexicographicallyPrecedes($1.name) }
            return listing
        }
    }

    public func md5(of path: RelativePath) throws -> String {
        let contents = try state.withLock { state in
            try state.check(.open, path, operation: "open")
            guard let node = state.nodes[path], node.kind == .file else { throw SyncTreeError(code: .notFound, operation: "open", path: path) }
            return node.contents
        }
        var hasher = MD5Stream()
        contents.withUnsafeBytes { hasher.update($0) }
        return hasher.finalize()
    }

    public func openFile(_ path: RelativePath) throws -> any FileReader {
        try state.withLock { state in
            try state.check(.open, path, operation: SyncTreeError.openSource)
            guard let node = state.nodes[path] else { throw SyncTreeError(code: .notFound, operation: SyncTreeError.openSource, path: path) }
            guard node.kind == .file else {
                throw SyncTreeError(code: .sourceChanged, operation: "copy", path: path, detail: "source is no longer a regular file")
            }
            return Reader(tree: self, path: path, node: node)
        }
    }

    public func receiveFile(_ path: RelativePath, from reader: any FileReader, options: CopyOptions, shouldStop: @Sendable () -> Bool) throws
        -> CopyReport
    {
        let attributes = reader.attributes
        let staged = TemporaryName.make()
        var contents: [UInt8] = []
        var hasher = MD5Stream()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            if shouldStop() { throw SyncTreeError(code: .interrupted, operation: "copy", path: path, detail: "stopped") }
            let count = try reader.read(into: buffer)
            if count == 0 { break }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[..<count])
            contents.append(contentsOf: chunk)
            if options.verify { hasher.update(chunk) }
        }
        guard Int64(contents.count) == attributes.size else {
            throw SyncTreeError(code: .sourceChanged, operation: "copy", path: path, detail: "source changed during copy")
        }
        try reader.checkUnchanged()
        if shouldStop() { throw SyncTreeError(code: .interrupted, operation: "copy", path: path, detail: "stopped before rename") }
        try state.withLock { state in
            try state.check(.write, path, operation: "create temporary file")
            guard options.expectedTarget.matches(state.nodes[path]?.entry(name: path.lastComponent)) else {
                throw SyncTreeError(
                    code: .targetChanged, operation: "rename into place", path: path, detail: "changed since it was listed; left alone")
            }
            guard path.parent.isRoot || state.nodes[path.parent]?.kind == .directory else {
                throw SyncTreeError(code: .notFound, operation: "open destination directory", path: path)
            }
            var node = Node(kind: .file, contents: contents, modified: attributes.modified, permissions: attributes.permissions)
            node.version = state.nextVersion
            state.nextVersion += 1
            if options.stageOnly {
                state.staged[path.parent.appending(staged)] = node
            } else {
                state.nodes[path] = node
                state.writes += 1
            }
        }
        var report = CopyReport(
            bytesCopied: Int64(contents.count), size: attributes.size, modified: attributes.modified, md5: options.verify ? hasher.finalize() : nil)
        if options.stageOnly { report.stagedName = staged }
        return report
    }

    /// How many staged copies wait to be published (tests).
    public var stagedCount: Int { state.withLock { $0.staged.count } }

    public func makeDirectory(_ path: RelativePath, replacing: EntryKind?) throws {
        try state.withLock { state in
            try state.check(.write, path, operation: "create directory")
            if let existing = state.nodes[path] {
                if existing.kind == .directory { return }
                guard replacing != nil else { throw SyncTreeError(code: .alreadyExists, operation: "create directory", path: path) }
            }
            state.nodes[path] = Node(kind: .directory, modified: Timestamp(seconds: 0), permissions: 0o700)
        }
    }

    public func finishDirectory(_ path: RelativePath, permissions: UInt32, modified: Timestamp) throws {
        try update(path, operation: "set directory attributes") {
            $0.permissions = permissions
            $0.modified = modified
        }
    }

    public func makeSymlink(_ path: RelativePath, target: [UInt8], modified: Timestamp) throws {
        try state.withLock { state in
            try state.check(.write, path, operation: "create symlink")
            state.nodes[path] = Node(kind: .symlink, modified: modified, permissions: 0o777, symlinkTarget: target)
        }
    }

    public func remove(_ path: RelativePath, kind: EntryKind) throws {
        try state.withLock { state in
            try state.check(.remove, path, operation: "delete")
            guard state.nodes[path] != nil else { throw SyncTreeError(code: .notFound, operation: "delete", path: path) }
            if kind == .directory && state.nodes.keys.contains(where: { !$0.isRoot && $0.parent == path }) {
                throw SyncTreeError(code: .notEmpty, operation: "delete", path: path)
            }
            state.nodes[path] = nil
        }
    }

    public func setModificationTime(_ path: RelativePath, to modified: Timestamp) throws {
        try update(path, operation: "set mtime") { $0.modified = modified }
    }

    public func removeTemporaryFile(named name: [UInt8], in directory: RelativePath) throws {
        precondition(TemporaryName.matches(name), "only the engine's temporary files are removed this way")
        let path = directory.appending(name)
        if state.withLock({ $0.staged.removeValue(forKey: path) != nil }) { return }
        try remove(path, kind: .file)
    }

    public func entry(at path: RelativePath) throws -> Entry? {
        state.withLock { $0.nodes[path]?.entry(name: path.lastComponent) }
    }

    public func keepVersion(of path: RelativePath, as versionPath: RelativePath, expected: Entry, keepOriginal: Bool) throws {
        try state.withLock { state in
            try state.check(.write, versionPath, operation: "keep version")
            guard let node = state.nodes[path], ExpectedTarget.unchanged(expected).matches(node.entry(name: path.lastComponent)) else {
                throw SyncTreeError(code: .targetChanged, operation: "keep version", path: path, detail: "changed since it was listed; left alone")
            }
            guard state.nodes[versionPath] == nil else { throw SyncTreeError(code: .alreadyExists, operation: "keep version", path: versionPath) }
            var parent = versionPath.parent
            while !parent.isRoot && state.nodes[parent] == nil {
                state.nodes[parent] = Node(kind: .directory, modified: Timestamp(seconds: 0), permissions: 0o755)
                parent = parent.parent
            }
            state.nodes[versionPath] = node
            if !keepOriginal { state.nodes[path] = nil }
        }
    }

    public func rename(_ path: RelativePath, to newPath: RelativePath, expected: Entry) throws {
        try state.withLock { state in
            try state.check(.write, newPath, operation: "rename")
            guard let node = state.nodes[path], ExpectedTarget.unchanged(expected).matches(node.entry(name: path.lastComponent)) else {
                throw SyncTreeError(code: .targetChanged, operation: "rename", path: path, detail: "changed since it was listed; left alone")
            }
            guard state.nodes[newPath] == nil else { throw SyncTreeError(code: .alreadyExists, operation: "rename", path: newPath) }
            guard node.kind != .directory else { throw SyncTreeError(code: .unsupported, operation: "rename", path: path) }
            state.nodes[path] = nil
            state.nodes[newPath] = node
        }
    }

    private func update(_ path: RelativePath, operation: String, _ change: (inout Node) -> Void) throws {
        try state.withLock { state in
            try state.check(.write, path, operation: operation)
            guard var node = state.nodes[path] else { throw SyncTreeError(code: .notFound, operation: operation, path: path) }
            change(&node)
            node.version = state.nextVersion
            state.nextVersion += 1
            state.nodes[path] = node
        }
    }

    fileprivate func currentVersion(of path: RelativePath) -> Int? {
        state.withLock { $0.nodes[path]?.version }
    }

    /// Reads a snapshot of the node taken when the file was opened, as a descriptor would.
    private final class Reader: FileReader {
        let tree: InMemoryTree
        let path: RelativePath
        let node: Node
        var offset = 0

        init(tree: InMemoryTree, path: RelativePath, node: Node) {
            self.tree = tree
            self.path = path
            self.node = node
        }

        var attributes: FileAttributes {
            FileAttributes(size: Int64(node.contents.count), modified: node.modified, permissions: node.permissions)
        }

        func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
            let count = min(buffer.count, node.contents.count - offset)
            guard count > 0 else { return 0 }
            node.contents.withUnsafeBytes { bytes in
                buffer.baseAddress!.copyMemory(from: bytes.baseAddress! + offset, byteCount: count)
            }
            offset += count
            return count
        }

        func checkUnchanged() throws {
            guard tree.currentVersion(of: path) == node.version else {
                throw SyncTreeError(code: .sourceChanged, operation: "copy", path: path, detail: "source changed during copy")
            }
        }
    }
}

extension InMemoryTree.Node {
    func entry(name: [UInt8]) -> Entry {
        let size: Int64 =
            switch kind {
            case .file: Int64(contents.count)
            case .symlink: Int64(symlinkTarget?.count ?? 0)
            case .directory, .other: 0
            }
        return Entry(name: name, kind: kind, size: size, modified: modified, permissions: permissions, symlinkTarget: symlinkTarget)
    }
}
