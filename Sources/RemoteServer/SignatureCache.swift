import RemoteProtocol
import SyncCore
import SyncFileSystem
import SyncTrees
import Synchronization

/// Block signatures computed in the same read as a large file's MD5.
///
/// A client compares a file whose size matches but whose mtime does not by its MD5 on both
/// sides, and, when they differ, asks for the signatures of this side's copy to send a delta.
/// Reading the file once for both saves a full pass over it; the signatures are kept only for
/// that file's unchanged version (device, inode, size, mtime and ctime, checked again when
/// they are handed out) and only until they are asked for.
final class SignatureCache: Sendable {
    /// Files from this size on get their signatures with their digest: below it a second
    /// read costs little, and a digest that matches (nothing to send) wastes no hashing.
    static let minimumSize: Int64 = 8 << 20
    /// At most this many block signatures are kept (about 20 bytes each, 24 MiB in all).
    static let blockLimit = 1 << 20

    private struct Entry {
        var version: FileVersion
        var signatures: BlockSignatures
    }

    private let entries = Mutex<[(path: RelativePath, entry: Entry)]>([])

    /// The MD5 of the regular file at `path`; for a large one the signatures of the same read
    /// are kept for ``take(_:basis:)``.
    func md5(of path: RelativePath, in tree: LocalTree) throws -> String {
        guard let basis = try tree.deltaBasis(for: path, source: nil), basis.size >= Self.minimumSize,
            let before = basis.currentVersion()
        else {
            return try tree.md5(of: path)
        }
        var hasher = MD5Stream()
        var offset: Int64 = 0
        let signatures = try BlockSignatures.compute(blockSize: BlockSignatures.blockSize(forFileSize: basis.size)) { buffer in
            let count = try basis.read(at: offset, into: buffer)
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            offset += Int64(count)
            return count
        }
        if basis.currentVersion() == before && offset == before.size {
            store(Entry(version: before, signatures: signatures), for: path)
        }
        return hasher.finalize()
    }

    /// The signatures kept for `path` if `basis` is still the version they were computed from;
    /// they are dropped either way.
    func take(_ path: RelativePath, basis: any BasisFile) -> BlockSignatures? {
        let entry = entries.withLock { entries -> Entry? in
            guard let index = entries.firstIndex(where: { $0.path == path }) else { return nil }
            return entries.remove(at: index).entry
        }
        guard let entry, let version = basis.currentVersion(), version == entry.version else { return nil }
        return entry.signatures
    }

    private func store(_ entry: Entry, for path: RelativePath) {
        entries.withLock { entries in
            entries.removeAll { $0.path == path }
            entries.append((path, entry))
            var blocks = entries.reduce(0) { $0 + $1.entry.signatures.blocks.count }
            while blocks > Self.blockLimit, let oldest = entries.first {
                blocks -= oldest.entry.signatures.blocks.count
                entries.removeFirst()
            }
        }
    }

    /// How many files' signatures are kept (for tests).
    var count: Int { entries.withLock { $0.count } }
}
