import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A lock file per pair, `<directory>/ha-sync-<pair>.lock`, held with `flock`.
///
/// The kernel drops a `flock` when the holder dies, even by `kill -9`, so a crashed run
/// never leaves the pair locked. On NFS, Linux maps `flock` to NFS byte-range locks, which
/// also work between hosts. The file holds a line about the holder, for the "held" message.
public struct FileRunLock: RunLock {
    public let path: String
    public let holderDescription: String

    /// - Parameters:
    ///   - directory: where the lock file lives (the log directory).
    ///   - pair: the pair name; both directions of a pair use the same file.
    ///   - holderDescription: who this run is, written into the file (for example the direction).
    public init(directory: String, pair: String, holderDescription: String) {
        self.path = directory.hasSuffix("/") ? "\(directory)ha-sync-\(pair).lock" : "\(directory)/ha-sync-\(pair).lock"
        self.holderDescription = holderDescription
    }

    public func acquire() async throws -> LockAcquisition {
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw RunLockError("cannot open lock file \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            let holder = Self.readHolder(descriptor)
            close(descriptor)
            if code == EWOULDBLOCK {
                return .held(holder: holder.isEmpty ? "another process" : holder)
            }
            throw RunLockError("cannot lock \(path): \(String(cString: strerror(code)))")
        }
        let line = "pid \(getpid()), \(holderDescription)\n"
        _ = ftruncate(descriptor, 0)
        _ = line.withCString { pwrite(descriptor, $0, strlen($0), 0) }
        return .acquired(FileLockHold(descriptor: descriptor))
    }

    private static func readHolder(_ descriptor: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 512)
        let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return "" }
        return String(decoding: buffer[..<count], as: UTF8.self).trimmingCharacters(in: [" ", "\n"])
    }
}

/// A held `flock`: released by closing its descriptor.
final class FileLockHold: HeldLock {
    private let descriptor: Mutex<Int32?>

    init(descriptor: Int32) {
        self.descriptor = Mutex(descriptor)
    }

    func release() async {
        descriptor.withLock { current in
            guard let value = current else { return }
            // Empty the holder line first, so a reader never names a finished run.
            _ = ftruncate(value, 0)
            // Unlocked explicitly: a child forked by another thread shares the lock until it
            // execs, and closing our descriptor alone would leave it held until then.
            _ = flock(value, LOCK_UN)
            close(value)
            current = nil
        }
    }

    deinit {
        descriptor.withLock { current in
            if let value = current {
                _ = flock(value, LOCK_UN)
                close(value)
            }
        }
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: Set<Character>) -> String {
        var result = Substring(self)
        while let first = result.first, set.contains(first) { result = result.dropFirst() }
        while let last = result.last, set.contains(last) { result = result.dropLast() }
        return String(result)
    }
}
