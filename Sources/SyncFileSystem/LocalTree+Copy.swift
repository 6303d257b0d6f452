import CSyncShims
public import SyncCore
public import SyncTrees

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension LocalTree {
    /// Bytes per `copy_file_range` call. Large calls let the kernel (or an NFS 4.2 server) copy
    /// in big extents; a stop request is noticed between calls, so this bounds how long a
    /// SIGTERM waits for a copy in flight (about 2.5 s at 100 MB/s).
    static let copyChunk = 256 << 20
    /// Files from this size on get sequential read-ahead advice.
    static let sequentialAdviceThreshold = 1 << 20

    public func openFile(_ path: RelativePath) throws -> any FileReader {
        let input = try openBeneath(path, flags: O_RDONLY, operation: SyncTreeError.openSource)
        var info = stat()
        guard fstat(input, &info) == 0 else {
            let error = SyncTreeError.system("stat source", path)
            close(input)
            throw error
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            close(input)
            throw SyncTreeError(code: .sourceChanged, operation: "copy", path: path, detail: "source is no longer a regular file")
        }
        let reader = LocalFileReader(descriptor: input, path: path, info: info)
        if Int64(info.st_size) >= KeptSignatures.minimumSize {
            reader.keptSignatures = keptSignatures.take(path, version: FileVersion(info))
        }
        return reader
    }

    public func receiveFile(_ path: RelativePath, from reader: any FileReader, options: CopyOptions, shouldStop: @Sendable () -> Bool) throws
        -> CopyReport
    {
        try receiveFile(path, from: reader, options: options, shouldStop: shouldStop, parents: nil)
    }

    /// ``receiveFile(_:from:options:shouldStop:)``, taking the file's folder from `parents`
    /// when a file before it was written there (a batch of one folder's files).
    public func receiveFile(
        _ path: RelativePath, from reader: any FileReader, options: CopyOptions, shouldStop: @Sendable () -> Bool, parents: ParentFolders?
    ) throws -> CopyReport {
        // Two local files: let the kernel (or the NFS server) move the bytes.
        let local = reader as? LocalFileReader
        return try withParent(of: path, operation: "open destination directory", parents: parents) { directory, finalName in
            let delta = reader as? any DeltaFileReader
            // A large file from across a network is written under a name of its own (its source
            // version's), kept when the transfer breaks: the next attempt takes what arrived as
            // its old copy, and only the rest crosses the wire.
            let partial = delta == nil ? nil : Self.partialName(for: path, attributes: reader.attributes)
            let resumeFrom = partial.flatMap { name in RelativePath(unchecked: name).withCString { LocalBasisFile(directory: directory, name: $0) } }
            // A remote reader can send only what changed against the old copy (or what is
            // missing from a partial one); it asks for the content after this offer. The
            // sender's signatures came from ``deltaBasis(for:source:)``, which chooses alike.
            var offered: LocalBasisFile?
            if let delta, delta.wantsBasis, let basis = resumeFrom ?? oldCopy(path, directory: directory, name: finalName) {
                delta.useBasis(basis)
                offered = basis
            }
            let attributes = reader.attributes
            let temporary = resumeFrom == nil ? partial ?? TemporaryName.make() : TemporaryName.make()
            return try RelativePath(unchecked: temporary).withCString { temporaryName in
                // O_RDWR so --verify can read the copy back. A partial too short to resume
                // from is started again.
                let flags = temporary == partial ? O_CREAT | O_TRUNC : O_CREAT | O_EXCL
                let output = openat(directory, temporaryName, O_RDWR | flags | O_CLOEXEC | O_NOFOLLOW, 0o600)
                guard output >= 0 else { throw SyncTreeError.system("create temporary file", path) }
                var committed = false
                var keepPartial = partial != nil
                defer {
                    close(output)
                    if !committed {
                        Self.abandon(temporaryName, in: directory, keep: keepPartial ? partial : nil, resumedFrom: resumeFrom)
                    } else if resumeFrom != nil, let partial {
                        _ = RelativePath(unchecked: partial).withCString { unlinkat(directory, $0, 0) }
                    }
                }

                var sourceDigest: String?
                let copied: Int64
                if options.verify || local == nil {
                    var hasher = options.verify ? MD5Stream() : nil
                    var total: Int64 = 0
                    if let delta, let offered, hasher == nil {
                        total = try Self.receiveDelta(delta, basis: offered, into: output, path: path, shouldStop: shouldStop)
                    } else {
                        try FileIO.readAll(from: reader, path: path, shouldStop: shouldStop) { chunk in
                            hasher?.update(chunk)
                            try FileIO.writeAll(output, chunk, path: path)
                            total += Int64(chunk.count)
                        }
                    }
                    copied = total
                    sourceDigest = hasher?.finalize()
                } else if let local, attributes.size > 0 && !cloneUnsupported.load(ordering: .relaxed) && hasync_clone(local.descriptor, output) == 0
                {
                    copied = attributes.size  // a reflink: the data is shared, nothing to copy
                } else {
                    let input = local!.descriptor
                    if attributes.size > 0 && !cloneUnsupported.load(ordering: .relaxed)
                        && [EOPNOTSUPP, ENOTTY, EXDEV, EINVAL, ENOSYS].contains(errno)
                    {
                        cloneUnsupported.store(true, ordering: .relaxed)
                    }
                    if attributes.size >= Self.sequentialAdviceThreshold { hasync_advise_sequential(input) }
                    copied = try Self.copyData(from: input, to: output, expected: attributes.size, path: path, shouldStop: shouldStop)
                }

                guard copied == attributes.size else {
                    keepPartial = false
                    throw SyncTreeError(code: .sourceChanged, operation: "copy", path: path, detail: "source changed during copy")
                }
                if let sourceDigest {
                    guard lseek(output, 0, SEEK_SET) == 0 else { throw SyncTreeError.system("verify", path) }
                    var hasher = MD5Stream()
                    try FileIO.readAll(output, path: path, shouldStop: shouldStop) { hasher.update($0) }  // a stop is not held up by the re-read
                    let written = hasher.finalize()
                    guard written == sourceDigest else {
                        keepPartial = false
                        throw SyncTreeError(
                            code: .verificationFailed, operation: "verify", path: path,
                            detail: "written copy has MD5 \(written), source has \(sourceDigest)")
                    }
                }

                if Self.isRoot, let owner = attributes.owner, let group = attributes.group, owner != 0 || group != getegid() {
                    // Keep ownership when running as root; root-squashed NFS refuses, which is fine.
                    _ = fchown(output, owner, group)
                }
                guard fchmod(output, mode_t(attributes.permissions & 0o7777)) == 0 else { throw SyncTreeError.system("set permissions", path) }
                var times = [timespec(attributes.modified), timespec(attributes.modified)]
                if let local { times[0] = local.info.st_atim }
                guard futimens(output, &times) == 0 else { throw SyncTreeError.system("set mtime", path) }
                if options.fsync && fsync(output) != 0 { throw SyncTreeError.system("fsync", path) }

                do {
                    try reader.checkUnchanged()
                } catch {
                    keepPartial = false  // a different version: nothing to resume
                    throw error
                }
                if shouldStop() {
                    throw SyncTreeError(code: .interrupted, operation: "copy", path: path, detail: "stopped before rename")
                }
                if options.stageOnly {
                    // Complete and checked; the rename waits for the end of the run.
                    committed = true
                    var report = CopyReport(bytesCopied: copied, size: attributes.size, modified: attributes.modified, md5: sourceDigest)
                    report.stagedName = temporary
                    return report
                }
                if options.expectedTarget != .unchecked {
                    // Right before the rename: a file saved meanwhile is never replaced.
                    let current = Self.entry(in: directory, name: finalName, path: path)
                    guard options.expectedTarget.matches(current) else {
                        throw SyncTreeError(
                            code: .targetChanged, operation: "rename into place", path: path, detail: "changed since it was listed; left alone")
                    }
                }
                guard renameat(directory, temporaryName, directory, finalName) == 0 else {
                    throw SyncTreeError.system("rename into place", path)
                }
                committed = true
                return CopyReport(bytesCopied: copied, size: attributes.size, modified: attributes.modified, md5: sourceDigest)
            }
        }
    }

    /// Writes what a delta reader holds into `output`, copying the runs of the old copy it
    /// names (``DeltaFileReader/takeBasisRun(limit:)``) in the kernel rather than through this
    /// process. Returns the bytes written.
    static func receiveDelta(
        _ reader: any DeltaFileReader, basis: LocalBasisFile, into output: Int32, path: RelativePath, shouldStop: () -> Bool
    ) throws -> Int64 {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: FileIO.bufferSize, alignment: 16)
        defer { buffer.deallocate() }
        var total: Int64 = 0
        while true {
            if shouldStop() { throw SyncTreeError(code: .interrupted, operation: "copy", path: path, detail: "stopped") }
            if let run = try reader.takeBasisRun(limit: Int64(copyChunk)) {
                try copyRange(from: basis.descriptor, at: run.offset, length: run.length, to: output, buffer: buffer, path: path)
                total += run.length
                continue
            }
            let count = try reader.read(into: buffer)
            if count == 0 { return total }
            try FileIO.writeAll(output, UnsafeRawBufferPointer(rebasing: buffer[..<count]), path: path)
            total += Int64(count)
        }
    }

    /// Copies `length` bytes from `offset` of `input` to `output`'s current offset, with
    /// `copy_file_range` where the file system can (through `buffer` where it cannot).
    static func copyRange(
        from input: Int32, at offset: Int64, length: Int64, to output: Int32, buffer: UnsafeMutableRawBufferPointer, path: RelativePath
    ) throws {
        var done: Int64 = 0
        var inKernel = true
        while done < length {
            let want = Int(min(length - done, Int64(inKernel ? copyChunk : buffer.count)))
            let count: Int
            if inKernel {
                count = hasync_copy_file_range_from(input, offset + done, output, want)
            } else {
                count = pread(input, buffer.baseAddress, want, off_t(offset + done))
                if count > 0 { try FileIO.writeAll(output, UnsafeRawBufferPointer(rebasing: buffer[..<count]), path: path) }
            }
            if count > 0 {
                done += Int64(count)
            } else if count == 0 {
                throw SyncTreeError(code: .targetChanged, operation: "delta", path: path, detail: "the old copy shrank during the transfer")
            } else if errno == EINTR {
                continue
            } else if inKernel && [EXDEV, EOPNOTSUPP, ENOSYS, EINVAL].contains(errno) {
                inKernel = false
            } else {
                throw SyncTreeError.system("copy from old copy", path)
            }
        }
    }

    /// Files from this size on, received from a network peer, can resume an interrupted transfer.
    public static let resumableMinimumSize: Int64 = 8 << 20

    /// The partial file's name for a transfer of `attributes`' version of `path`, if it is large enough to resume.
    static func partialName(for path: RelativePath, attributes: FileAttributes) -> [UInt8]? {
        guard attributes.size >= resumableMinimumSize else { return nil }
        return TemporaryName.resumable(for: path.lastComponent, size: attributes.size, modified: attributes.modified)
    }

    /// What a delta transfer of `source` (the sender's version) into `path` is rebuilt from:
    /// the partial file of an interrupted transfer of the same version, else the old copy at
    /// `path`; `nil` when neither is a regular file worth a delta. A peer asks for its
    /// signatures before it sends; ``receiveFile(_:from:options:shouldStop:)`` offers the same.
    public func deltaBasis(for path: RelativePath, source: FileAttributes?) throws -> (any BasisFile)? {
        guard !path.isRoot else { return nil }
        return try withParent(of: path, operation: "open old copy") { directory, finalName in
            if let source, let partial = Self.partialName(for: path, attributes: source),
                let basis = RelativePath(unchecked: partial).withCString({ LocalBasisFile(directory: directory, name: $0) })
            {
                return basis
            }
            return oldCopy(path, directory: directory, name: finalName, handingOut: false)
        }
    }

    /// The file at `path` as a delta's basis, with the signatures its digest's read kept, if
    /// any; `handingOut` them for the last time (the delta's receiver) or not (its sender's
    /// request for them, or another read).
    func oldCopy(_ path: RelativePath, directory: Int32, name: UnsafePointer<CChar>, handingOut: Bool = true) -> LocalBasisFile? {
        guard let basis = LocalBasisFile(directory: directory, name: name) else { return nil }
        if basis.size >= KeptSignatures.minimumSize {
            let version = basis.currentVersion()
            basis.keptSignatures =
                handingOut ? keptSignatures.take(path, version: version) : keptSignatures.peek(path, version: version)
            if basis.keptSignatures != nil { basis.keptVersion = version }
        }
        return basis
    }

    /// The MD5 of the file at `path`; with `preparingDelta`, for a regular file of at least
    /// ``KeptSignatures/minimumSize``, its block signatures from the same read are kept for
    /// the delta that follows (its reader or its basis hands them out).
    public func md5(of path: RelativePath, preparingDelta: Bool) throws -> String {
        // Anything unusual (not a regular file, a folder gone) goes the plain way, whose errors
        // name the digest rather than a delta.
        guard preparingDelta, let file = (try? deltaBasis(for: path, source: nil)) ?? nil, file.size >= KeptSignatures.minimumSize,
            let before = file.currentVersion()
        else {
            return try md5(of: path)
        }
        var hasher = MD5Stream()
        var offset: Int64 = 0
        let signatures = try BlockSignatures.compute(blockSize: BlockSignatures.blockSize(forFileSize: file.size), key: .random()) { buffer in
            let count = try file.read(at: offset, into: buffer)
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            offset += Int64(count)
            return count
        }
        if offset == before.size && file.currentVersion() == before {
            keptSignatures.keep(signatures, for: path, version: before)
        }
        return hasher.finalize()
    }

    /// The ``BlockDigest`` of the file at `path`; for a regular file of at least
    /// ``KeptSignatures/minimumSize``, its block signatures from the same read are kept for
    /// the delta that follows, as with ``md5(of:preparingDelta:)``.
    public func blockDigest(of path: RelativePath, key: BlockKey) throws -> String {
        guard let file = (try? deltaBasis(for: path, source: nil)) ?? nil, file.size >= KeptSignatures.minimumSize,
            let before = file.currentVersion()
        else {
            return try readingBlockDigest(of: path, key: key)
        }
        var offset: Int64 = 0
        let (signatures, digest) = try BlockSignatures.computeWithDigest(size: file.size, key: key) { buffer in
            let count = try file.read(at: offset, into: buffer)
            offset += Int64(count)
            return count
        }
        if offset == before.size && file.currentVersion() == before {
            keptSignatures.keep(signatures, for: path, version: before)
        }
        return BlockDigest.text(digest)
    }

    /// Removes an unfinished copy, or keeps it as `keep` (the partial file of a resumable
    /// transfer) when it holds more than the partial it resumed from.
    static func abandon(_ temporaryName: UnsafePointer<CChar>, in directory: Int32, keep: [UInt8]?, resumedFrom: LocalBasisFile?) {
        guard let keep else {
            unlinkat(directory, temporaryName, 0)
            return
        }
        var info = stat()
        let written = fstatat(directory, temporaryName, &info, AT_SYMLINK_NOFOLLOW) == 0 ? Int64(info.st_size) : 0
        RelativePath(unchecked: keep).withCString { keepName in
            if strcmp(temporaryName, keepName) == 0 { return }  // written in place: it stays
            if written > (resumedFrom?.size ?? 0) {
                renameat(directory, temporaryName, directory, keepName)
            } else {
                unlinkat(directory, temporaryName, 0)
            }
        }
    }

    /// Whether a file is unchanged between two `fstat`s: size, mtime and ctime (ctime also
    /// catches writes by tools that put the mtime back).
    static func sameVersion(_ lhs: stat, _ rhs: stat) -> Bool {
        lhs.st_size == rhs.st_size && lhs.st_mtim.tv_sec == rhs.st_mtim.tv_sec && lhs.st_mtim.tv_nsec == rhs.st_mtim.tv_nsec
            && lhs.st_ctim.tv_sec == rhs.st_ctim.tv_sec && lhs.st_ctim.tv_nsec == rhs.st_ctim.tv_nsec
    }

    static let isRoot = geteuid() == 0

    /// Copies with `copy_file_range` (in-kernel, server-side on NFS 4.2), falling back to
    /// read/write where the kernel or file system does not support it. Returns the bytes copied.
    ///
    /// Stops at `expected` bytes without asking for more: a file that grew meanwhile is caught by
    /// the caller's second `fstat`, so the usual end-of-file call would only cost a syscall.
    static func copyData(from input: Int32, to output: Int32, expected: Int64, path: RelativePath, shouldStop: () -> Bool) throws -> Int64 {
        var total: Int64 = 0
        while total < expected || expected == 0 {
            if shouldStop() { throw SyncTreeError(code: .interrupted, operation: "copy", path: path, detail: "stopped") }
            let count = hasync_copy_file_range(input, output, copyChunk)
            if count > 0 {
                total += Int64(count)
                continue
            }
            if count == 0 { return total }
            let code = errno
            if code == EINTR { continue }
            guard total == 0 && [EXDEV, EINVAL, ENOSYS, EOPNOTSUPP, EBADF, ENOTSUP, EPERM].contains(code) else {
                throw SyncTreeError.system("copy", path, errno: code)
            }
            // Not supported between these files: copy through user space instead.
            try FileIO.readAll(input, path: path, shouldStop: shouldStop) { chunk in
                try FileIO.writeAll(output, chunk, path: path)
                total += Int64(chunk.count)
            }
            return total
        }
        return total
    }
}

/// A regular file of a ``LocalTree`` opened for a copy: its descriptor and the `fstat` taken at open.
final class LocalFileReader: FileReader {
    let descriptor: Int32
    let path: RelativePath
    let info: stat
    var keptSignatures: BlockSignatures?

    init(descriptor: Int32, path: RelativePath, info: stat) {
        self.descriptor = descriptor
        self.path = path
        self.info = info
    }

    deinit {
        close(descriptor)
    }

    var attributes: FileAttributes {
        FileAttributes(
            size: Int64(info.st_size), modified: Timestamp(info.st_mtim), permissions: UInt32(info.st_mode & 0o7777),
            owner: info.st_uid, group: info.st_gid)
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try FileIO.readSome(descriptor, into: buffer, path: path)
    }

    /// The `fstat` after the read compares the size with the one taken at open.
    var checksSize: Bool { true }

    func checkUnchanged() throws {
        var after = stat()
        guard fstat(descriptor, &after) == 0 else { throw SyncTreeError.system("stat source", path) }
        guard LocalTree.sameVersion(info, after) else {
            throw SyncTreeError(code: .sourceChanged, operation: "copy", path: path, detail: "source changed during copy")
        }
    }
}

/// The old copy of a file at the destination, held open for a delta transfer. Opened without
/// following a symlink; only a regular file large enough to be worth it qualifies.
final class LocalBasisFile: BasisFile {
    let descriptor: Int32
    let size: Int64
    var keptSignatures: BlockSignatures?
    var keptVersion: FileVersion?

    init?(directory: Int32, name: UnsafePointer<CChar>) {
        let descriptor = openat(directory, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard descriptor >= 0 else { return nil }
        var info = stat()
        guard fstat(descriptor, &info) == 0, info.st_mode & S_IFMT == S_IFREG, Int64(info.st_size) >= deltaBasisMinimumSize else {
            close(descriptor)
            return nil
        }
        self.descriptor = descriptor
        self.size = Int64(info.st_size)
    }

    deinit {
        close(descriptor)
    }

    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let count = pread(descriptor, buffer.baseAddress, buffer.count, off_t(offset))
            if count >= 0 { return count }
            if errno != EINTR { throw SyncTreeError.system("read old copy", nil) }
        }
    }

    func currentVersion() -> FileVersion? {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return nil }
        return FileVersion(info)
    }
}

extension FileVersion {
    init(_ info: stat) {
        self.init(
            device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size),
            modifiedNanoseconds: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec),
            changedNanoseconds: Int64(info.st_ctim.tv_sec) * 1_000_000_000 + Int64(info.st_ctim.tv_nsec))
    }
}

extension LocalTree: StagingSyncTree {
    public var stagesCopies: Bool { true }

    public func publishStaged(_ temporaryName: [UInt8], as path: RelativePath) throws {
        precondition(TemporaryName.matches(temporaryName), "only the engine's temporary files are published")
        try withParent(of: path, operation: "rename into place") { directory, finalName in
            try RelativePath(unchecked: temporaryName).withCString { staged in
                guard renameat(directory, staged, directory, finalName) == 0 else { throw SyncTreeError.system("rename into place", path) }
            }
        }
    }
}
