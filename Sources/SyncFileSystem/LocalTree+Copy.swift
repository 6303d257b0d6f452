import CSyncShims
public import SyncCore

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

    public func copyFile(_ path: RelativePath, from source: LocalTree, options: CopyOptions, shouldStop: @Sendable () -> Bool) throws -> CopyReport {
        let input = try source.openBeneath(path, flags: O_RDONLY, operation: FileSystemError.openSource)
        defer { close(input) }
        var before = stat()
        guard fstat(input, &before) == 0 else { throw FileSystemError.system("stat source", path) }
        guard before.st_mode & S_IFMT == S_IFREG else {
            throw FileSystemError(code: .sourceChanged, operation: "copy", path: path, detail: "source is no longer a regular file")
        }

        return try withParent(of: path, operation: "open destination directory") { directory, finalName in
            let temporary = TemporaryName.make()
            return try RelativePath(unchecked: temporary).withCString { temporaryName in
                // O_RDWR so --verify can read the copy back.
                let output = openat(directory, temporaryName, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
                guard output >= 0 else { throw FileSystemError.system("create temporary file", path) }
                var committed = false
                defer {
                    close(output)
                    if !committed { unlinkat(directory, temporaryName, 0) }
                }

                var sourceDigest: String?
                let copied: Int64
                if options.verify {
                    var hasher = MD5Stream()
                    var total: Int64 = 0
                    try FileIO.readAll(input, path: path, shouldStop: shouldStop) { chunk in
                        hasher.update(chunk)
                        try FileIO.writeAll(output, chunk, path: path)
                        total += Int64(chunk.count)
                    }
                    copied = total
                    sourceDigest = hasher.finalize()
                } else if before.st_size > 0 && !cloneUnsupported.load(ordering: .relaxed) && hasync_clone(input, output) == 0 {
                    copied = Int64(before.st_size)  // a reflink: the data is shared, nothing to copy
                } else {
                    if before.st_size > 0 && !cloneUnsupported.load(ordering: .relaxed)
                        && [EOPNOTSUPP, ENOTTY, EXDEV, EINVAL, ENOSYS].contains(errno)
                    {
                        cloneUnsupported.store(true, ordering: .relaxed)
                    }
                    if before.st_size >= Self.sequentialAdviceThreshold { hasync_advise_sequential(input) }
                    copied = try Self.copyData(from: input, to: output, expected: Int64(before.st_size), path: path, shouldStop: shouldStop)
                }

                guard copied == Int64(before.st_size) else {
                    throw FileSystemError(code: .sourceChanged, operation: "copy", path: path, detail: "source changed during copy")
                }
                if let sourceDigest {
                    guard lseek(output, 0, SEEK_SET) == 0 else { throw FileSystemError.system("verify", path) }
                    var hasher = MD5Stream()
                    try FileIO.readAll(output, path: path) { hasher.update($0) }
                    let written = hasher.finalize()
                    guard written == sourceDigest else {
                        throw FileSystemError(
                            code: .verificationFailed, operation: "verify", path: path,
                            detail: "written copy has MD5 \(written), source has \(sourceDigest)")
                    }
                }

                if Self.isRoot && (before.st_uid != 0 || before.st_gid != getegid()) {
                    // Keep ownership when running as root; root-squashed NFS refuses, which is fine.
                    _ = fchown(output, before.st_uid, before.st_gid)
                }
                guard fchmod(output, before.st_mode & 0o7777) == 0 else { throw FileSystemError.system("set permissions", path) }
                var times = [before.st_atim, before.st_mtim]
                guard futimens(output, &times) == 0 else { throw FileSystemError.system("set mtime", path) }
                if options.fsync && fsync(output) != 0 { throw FileSystemError.system("fsync", path) }

                var after = stat()
                guard fstat(input, &after) == 0 else { throw FileSystemError.system("stat source", path) }
                guard Self.sameVersion(before, after) else {
                    throw FileSystemError(code: .sourceChanged, operation: "copy", path: path, detail: "source changed during copy")
                }
                if shouldStop() {
                    throw FileSystemError(code: .interrupted, operation: "copy", path: path, detail: "stopped before rename")
                }
                guard renameat(directory, temporaryName, directory, finalName) == 0 else {
                    throw FileSystemError.system("rename into place", path)
                }
                committed = true
                return CopyReport(bytesCopied: copied, size: Int64(before.st_size), modified: Timestamp(before.st_mtim), md5: sourceDigest)
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
            if shouldStop() { throw FileSystemError(code: .interrupted, operation: "copy", path: path, detail: "stopped") }
            let count = hasync_copy_file_range(input, output, copyChunk)
            if count > 0 {
                total += Int64(count)
                continue
            }
            if count == 0 { return total }
            let code = errno
            if code == EINTR { continue }
            guard total == 0 && [EXDEV, EINVAL, ENOSYS, EOPNOTSUPP, EBADF, ENOTSUP, EPERM].contains(code) else {
                throw FileSystemError.system("copy", path, errno: code)
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
