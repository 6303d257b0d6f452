import CSyncShims
public import SyncCore
public import SyncTrees
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A directory tree on a local (or NFS-mounted) file system.
///
/// Every path is resolved relative to a file descriptor of the root with `openat2`
/// (`RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`), so a symlink inside the tree is never followed,
/// even in a middle component, and nothing outside the root is ever touched.
public final class LocalTree: SyncTree {
    public let displayName: String
    let rootDescriptor: Int32
    /// Set once a reflink (FICLONE) failed for lack of support, so it is not tried per file.
    let cloneUnsupported = Atomic<Bool>(false)
    /// When a large folder's names are examined on several threads.
    let statFanOut: StatFanOut
    /// Signatures read with a large file's MD5, for the delta that follows.
    public let keptSignatures = KeptSignatures()

    /// Opens the tree rooted at `path`, which must be an existing directory.
    public init(root path: String, statFanOut: StatFanOut = .standard) throws {
        self.statFanOut = statFanOut
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else {
            let code = errno
            var error = SyncTreeError.system("open directory", nil, errno: code)
            error.detail = path
            throw error
        }
        self.rootDescriptor = descriptor
        self.displayName = path
    }

    deinit {
        close(rootDescriptor)
    }

    /// `UTIME_OMIT` from <sys/stat.h>, which Swift does not import: leave that time alone.
    static let utimeOmit = (1 << 30) - 2

    // MARK: Descriptors

    /// Opens `path` below the root, never through a symlink.
    func openBeneath(_ path: RelativePath, flags: Int32, mode: UInt32 = 0, operation: String) throws -> Int32 {
        let descriptor = path.withCString { hasync_open_beneath(rootDescriptor, $0, flags, mode) }
        guard descriptor >= 0 else { throw SyncTreeError.system(operation, path) }
        return descriptor
    }

    /// Runs `body` with a descriptor of the directory that holds `path` and the last component's
    /// name; with `parents`, the directory stays open there for the next path in it.
    func withParent<Result>(
        of path: RelativePath,
        operation: String,
        parents: ParentFolders? = nil,
        _ body: (_ directory: Int32, _ name: UnsafePointer<CChar>) throws -> Result
    ) throws -> Result {
        precondition(!path.isRoot, "the root has no parent")
        let directory: Int32
        if let parents {
            directory = try parents.descriptor(of: path.parent, in: self) {
                try openBeneath(path.parent, flags: O_RDONLY | O_DIRECTORY, operation: operation)
            }
        } else {
            directory = try openBeneath(path.parent, flags: O_RDONLY | O_DIRECTORY, operation: operation)
        }
        defer { if parents == nil { close(directory) } }
        return try RelativePath(unchecked: path.lastComponent).withCString { try body(directory, $0) }
    }

    // MARK: Listing

    /// Whether `path` still names the directory this tree opened (same device and inode). A
    /// long-running server checks it: a volume mounted over the folder, or a folder recreated,
    /// must not leave it serving the old one.
    public func isStill(at path: String) -> Bool {
        var opened = stat()
        var current = stat()
        guard fstat(rootDescriptor, &opened) == 0, stat(path, &current) == 0 else { return false }
        return opened.st_dev == current.st_dev && opened.st_ino == current.st_ino
    }

    public func list(_ directory: RelativePath) throws -> DirectoryListing {
        try list(directory, detailed: true)
    }

    public func listKinds(_ directory: RelativePath) throws -> DirectoryListing {
        try list(directory, detailed: false)
    }

    /// `detailed: false` takes each entry's kind from `d_type` and stats only where the file
    /// system does not report it (`DT_UNKNOWN`).
    ///
    /// Names are examined one by one as they are read. When the first few `stat`s each take as
    /// long as a network round trip (NFS with a cold attribute cache), the rest of the folder's
    /// names are collected and examined on several threads at once (``StatFanOut``).
    private func list(_ directory: RelativePath, detailed: Bool) throws -> DirectoryListing {
        let descriptor = try openBeneath(directory, flags: O_RDONLY | O_DIRECTORY, operation: "list directory")
        guard let stream = fdopendir(descriptor) else {
            let code = errno
            close(descriptor)
            throw SyncTreeError.system("list directory", directory, errno: code)
        }
        defer { closedir(stream) }
        let streamDescriptor = dirfd(stream)
        let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!

        var listing = DirectoryListing()
        var probeStarted: Int64 = 0
        var probed = 0
        var microsPerStat = 0.0
        // Names left for the fan-out, NUL-terminated, once the probe found the stats slow.
        var deferred: [[UInt8]] = []
        var deferring = false
        while true {
            errno = 0
            guard let record = readdir(stream) else {
                if errno != 0 { throw SyncTreeError.system("list directory", directory) }
                break
            }
            let namePointer = (UnsafeRawPointer(record) + nameOffset).assumingMemoryBound(to: CChar.self)
            let length = strlen(namePointer)
            if namePointer[0] == 0x2E && (length == 1 || (length == 2 && namePointer[1] == 0x2E)) {
                continue  // "." and ".."
            }
            let nameBytes = UnsafeRawBufferPointer(start: namePointer, count: length)
            if TemporaryName.matches(nameBytes) {
                // A resumable transfer's partial file stays for the next attempt, until it is old.
                if !TemporaryName.isResumable(nameBytes) || Self.isExpiredPartial(in: streamDescriptor, name: namePointer) {
                    listing.temporaryFiles.append(Array(nameBytes))
                }
                continue
            }
            if !detailed, let kind = Self.kind(ofDirectoryEntryType: record.pointee.d_type) {
                listing.entries.append(Entry(name: Array(nameBytes), kind: kind, modified: Timestamp(seconds: 0)))
                continue
            }
            if deferring {
                deferred.append(Array(UnsafeRawBufferPointer(start: namePointer, count: length + 1)))
                continue
            }
            if probed == 0 { probeStarted = Self.monotonicNanoseconds() }
            var info = stat()
            let code = fstatat(streamDescriptor, namePointer, &info, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : errno
            accept(Array(nameBytes), info: info, errno: code, in: directory, descriptor: streamDescriptor, into: &listing)
            probed += 1
            if detailed && probed == StatFanOut.probe {
                microsPerStat = Double(Self.monotonicNanoseconds() - probeStarted) / 1000 / Double(probed)
                deferring = microsPerStat >= statFanOut.remoteMicrosPerStat
            }
        }
        if !deferred.isEmpty {
            let threads = statFanOut.threads(remaining: deferred.count, observedMicrosPerStat: microsPerStat)
            let results = Self.statMany(in: streamDescriptor, names: deferred, threads: threads)
            for (name, result) in zip(deferred, results) {
                accept(Array(name.dropLast()), info: result.info, errno: result.errno, in: directory, descriptor: streamDescriptor, into: &listing)
            }
        }
        DirectoryMerge.sort(&listing.entries)
        return listing
    }

    /// Adds one examined name to `listing` (a failure if its `stat` failed; nothing if it is
    /// gone since `readdir`), reading a symlink's target.
    private func accept(
        _ name: [UInt8], info: stat, errno code: Int32, in directory: RelativePath, descriptor: Int32, into listing: inout DirectoryListing
    ) {
        guard code == 0 else {
            // Removed since readdir: not there any more.
            if code != ENOENT { listing.failures.append(.system("stat", directory.appending(name), errno: code)) }
            return
        }
        var entry = Entry(name: name, info: info)
        if entry.kind == .symlink {
            let terminated = name + [0]
            let target = terminated.withUnsafeBufferPointer { bytes -> Result<[UInt8], SyncTreeError> in
                let cName = UnsafeRawPointer(bytes.baseAddress!).assumingMemoryBound(to: CChar.self)
                return Result { () throws(SyncTreeError) in
                    try readLink(descriptor, cName, size: Int(info.st_size), path: directory.appending(name))
                }
            }
            switch target {
            case .success(let bytes): entry.symlinkTarget = bytes
            case .failure(let error):
                listing.failures.append(error)
                return
            }
        }
        listing.entries.append(entry)
    }

    /// `fstatat` of each NUL-terminated name, on `threads` threads.
    static func statMany(in directory: Int32, names: [[UInt8]], threads: Int) -> [(info: stat, errno: Int32)] {
        // One buffer holds every name, so the pointers handed to C stay valid for the call.
        var bytes: [CChar] = []
        bytes.reserveCapacity(names.reduce(0) { $0 + $1.count })
        var offsets: [Int] = []
        offsets.reserveCapacity(names.count)
        for name in names {
            offsets.append(bytes.count)
            bytes.append(contentsOf: name.lazy.map { CChar(bitPattern: $0) })
        }
        var infos = Array(repeating: stat(), count: names.count)
        var errors = [Int32](repeating: 0, count: names.count)
        bytes.withUnsafeBufferPointer { storage in
            let pointers: [UnsafePointer<CChar>?] = offsets.map { storage.baseAddress! + $0 }
            pointers.withUnsafeBufferPointer { names in
                infos.withUnsafeMutableBufferPointer { infos in
                    errors.withUnsafeMutableBufferPointer { errors in
                        hasync_fstatat_many(directory, names.baseAddress, names.count, infos.baseAddress, errors.baseAddress, Int32(threads))
                    }
                }
            }
        }
        return Array(zip(infos, errors).map { (info: $0, errno: $1) })
    }

    static func monotonicNanoseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }

    /// The kind `readdir` reports, or `nil` when it does not know (`DT_UNKNOWN`).
    static func kind(ofDirectoryEntryType type: UInt8) -> EntryKind? {
        switch Int32(type) {
        case Int32(DT_REG): .file
        case Int32(DT_DIR): .directory
        case Int32(DT_LNK): .symlink
        case Int32(DT_UNKNOWN): nil
        default: .other
        }
    }

    private func readLink(_ directory: Int32, _ name: UnsafePointer<CChar>, size: Int, path: RelativePath) throws(SyncTreeError) -> [UInt8] {
        var capacity = max(size, 255) + 1
        while true {
            var buffer = [UInt8](repeating: 0, count: capacity)
            let count = buffer.withUnsafeMutableBufferPointer { pointer in
                pointer.withMemoryRebound(to: CChar.self) { readlinkat(directory, name, $0.baseAddress!, capacity) }
            }
            guard count >= 0 else { throw SyncTreeError.system("read symlink", path) }
            if count < capacity {
                return Array(buffer[..<count])
            }
            capacity *= 2  // the target grew since stat: read again
        }
    }

    // MARK: Hashing

    public func md5(of path: RelativePath) throws -> String {
        let descriptor = try openBeneath(path, flags: O_RDONLY, operation: "open")
        defer { close(descriptor) }
        var hasher = MD5Stream()
        try FileIO.readAll(descriptor, path: path) { hasher.update($0) }
        return hasher.finalize()
    }

    // MARK: Writing

    public func makeDirectory(_ path: RelativePath, replacing: EntryKind?) throws {
        try withParent(of: path, operation: "create directory") { directory, name in
            if replacing != nil && unlinkat(directory, name, 0) != 0 && errno != ENOENT {
                throw SyncTreeError.system("remove before creating directory", path)
            }
            // Owner-writable until finishDirectory sets the source's permissions after the content.
            if mkdirat(directory, name, 0o700) != 0 {
                let code = errno
                var info = stat()
                if code == EEXIST && fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 && (info.st_mode & S_IFMT) == S_IFDIR {
                    return
                }
                throw SyncTreeError.system("create directory", path, errno: code)
            }
        }
    }

    public func finishDirectory(_ path: RelativePath, permissions: UInt32, modified: Timestamp) throws {
        let descriptor = try openBeneath(path, flags: O_RDONLY | O_DIRECTORY, operation: "set directory attributes")
        defer { close(descriptor) }
        guard fchmod(descriptor, mode_t(permissions & 0o7777)) == 0 else {
            throw SyncTreeError.system("set directory permissions", path)
        }
        var times = [timespec(tv_sec: 0, tv_nsec: LocalTree.utimeOmit), timespec(modified)]
        guard futimens(descriptor, &times) == 0 else { throw SyncTreeError.system("set directory mtime", path) }
    }

    public func makeSymlink(_ path: RelativePath, target: [UInt8], modified: Timestamp) throws {
        try withParent(of: path, operation: "create symlink") { directory, name in
            let temporary = TemporaryName.make()
            try RelativePath(unchecked: temporary).withCString { temporaryName in
                try RelativePath(unchecked: target).withCString { targetName in
                    guard symlinkat(targetName, directory, temporaryName) == 0 else {
                        throw SyncTreeError.system("create symlink", path)
                    }
                }
                var times = [timespec(modified), timespec(modified)]
                guard utimensat(directory, temporaryName, &times, AT_SYMLINK_NOFOLLOW) == 0,
                    renameat(directory, temporaryName, directory, name) == 0
                else {
                    let error = SyncTreeError.system("replace symlink", path)
                    unlinkat(directory, temporaryName, 0)
                    throw error
                }
            }
        }
    }

    public func remove(_ path: RelativePath, kind: EntryKind) throws {
        try withParent(of: path, operation: "delete") { directory, name in
            guard unlinkat(directory, name, kind == .directory ? AT_REMOVEDIR : 0) == 0 else {
                throw SyncTreeError.system("delete", path)
            }
        }
    }

    public func setModificationTime(_ path: RelativePath, to modified: Timestamp) throws {
        try withParent(of: path, operation: "set mtime") { directory, name in
            var times = [timespec(tv_sec: 0, tv_nsec: LocalTree.utimeOmit), timespec(modified)]
            guard utimensat(directory, name, &times, AT_SYMLINK_NOFOLLOW) == 0 else {
                throw SyncTreeError.system("set mtime", path)
            }
        }
    }

    public func entry(at path: RelativePath) throws -> Entry? {
        if path.isRoot {
            var info = stat()
            guard fstat(rootDescriptor, &info) == 0 else { throw SyncTreeError.system("stat", path) }
            return Entry(name: [], info: info)
        }
        do {
            return try withParent(of: path, operation: "stat") { directory, name in
                Self.entry(in: directory, name: name, path: path)
            }
        } catch let error as SyncTreeError where error.code == .notFound || error.code == .notADirectory {
            return nil
        }
    }

    /// Whether a resumable transfer's partial file has gone unused for longer than its lifetime.
    static func isExpiredPartial(in directory: Int32, name: UnsafePointer<CChar>) -> Bool {
        var info = stat()
        guard fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return false }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) - Int64(info.st_mtim.tv_sec) > TemporaryName.resumableLifetimeSeconds
    }

    /// `fstatat` of one name, `nil` if there is nothing there (or it cannot be read).
    static func entry(in directory: Int32, name: UnsafePointer<CChar>, path: RelativePath) -> Entry? {
        var info = stat()
        guard fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return nil }
        return Entry(name: path.lastComponent, info: info)
    }

    public func rename(_ path: RelativePath, to newPath: RelativePath, expected: Entry) throws {
        precondition(path.parent == newPath.parent, "renames stay within one directory")
        try withParent(of: path, operation: "rename") { directory, name in
            guard ExpectedTarget.unchanged(expected).matches(Self.entry(in: directory, name: name, path: path)) else {
                throw SyncTreeError(code: .targetChanged, operation: "rename", path: path, detail: "changed since it was listed; left alone")
            }
            try RelativePath(unchecked: newPath.lastComponent).withCString { newName in
                // link + unlink never replaces an existing name (rename would), and works on NFS,
                // where renameat2's RENAME_NOREPLACE does not. Folders are never renamed this way.
                if linkat(directory, name, directory, newName, 0) == 0 {
                    unlinkat(directory, name, 0)
                    return
                }
                let code = errno
                if code == EEXIST { throw SyncTreeError.system("rename", newPath, errno: code) }
                // No hard links here (some file systems): check, then rename.
                guard Self.entry(in: directory, name: newName, path: newPath) == nil else {
                    throw SyncTreeError.system("rename", newPath, errno: EEXIST)
                }
                guard renameat(directory, name, directory, newName) == 0 else { throw SyncTreeError.system("rename", path) }
            }
        }
    }

    public func keepVersion(of path: RelativePath, as versionPath: RelativePath, expected: Entry, keepOriginal: Bool) throws {
        // The store's folders, one level at a time, never through a symlink.
        var missing: [RelativePath] = []
        var folder = versionPath.parent
        while !folder.isRoot, try entry(at: folder) == nil {
            missing.append(folder)
            folder = folder.parent
        }
        for folder in missing.reversed() {
            try withParent(of: folder, operation: "create version folder") { directory, name in
                if mkdirat(directory, name, 0o755) != 0 && errno != EEXIST {
                    throw SyncTreeError.system("create version folder", folder)
                }
            }
        }
        let target = try openBeneath(versionPath.parent, flags: O_RDONLY | O_DIRECTORY, operation: "open version folder")
        defer { close(target) }
        try withParent(of: path, operation: "keep version") { directory, name in
            guard ExpectedTarget.unchanged(expected).matches(Self.entry(in: directory, name: name, path: path)) else {
                throw SyncTreeError(code: .targetChanged, operation: "keep version", path: path, detail: "changed since it was listed; left alone")
            }
            try RelativePath(unchecked: versionPath.lastComponent).withCString { versionName in
                if keepOriginal {
                    if linkat(directory, name, target, versionName, 0) == 0 { return }
                    let code = errno
                    if code == EEXIST { throw SyncTreeError.system("keep version", versionPath, errno: code) }
                }
                // A rename never replaces: the name was checked free just before.
                guard Self.entry(in: target, name: versionName, path: versionPath) == nil else {
                    throw SyncTreeError.system("keep version", versionPath, errno: EEXIST)
                }
                guard renameat(directory, name, target, versionName) == 0 else {
                    throw SyncTreeError.system("keep version (move into .ha-sync-versions)", path)
                }
            }
        }
    }

    public func removeTemporaryFile(named name: [UInt8], in directory: RelativePath) throws {
        precondition(TemporaryName.matches(name), "only the engine's temporary files are removed this way")
        try remove(directory.appending(name), kind: .file)
    }
}

extension timespec {
    init(_ timestamp: Timestamp) {
        self.init(tv_sec: Int(timestamp.seconds), tv_nsec: Int(timestamp.nanoseconds))
    }
}

extension Timestamp {
    init(_ time: timespec) {
        self.init(seconds: Int64(time.tv_sec), nanoseconds: Int64(time.tv_nsec))
    }
}

extension Entry {
    init(name: [UInt8], info: stat) {
        let kind: EntryKind =
            switch info.st_mode & S_IFMT {
            case S_IFREG: .file
            case S_IFDIR: .directory
            case S_IFLNK: .symlink
            default: .other
            }
        self.init(
            name: name,
            kind: kind,
            size: kind == .directory ? 0 : Int64(info.st_size),
            modified: Timestamp(info.st_mtim),
            permissions: UInt32(info.st_mode & 0o7777)
        )
    }
}
