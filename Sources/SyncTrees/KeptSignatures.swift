public import SyncCore
import Synchronization

/// Block signatures of files, computed in the same read as their digest and kept for the
/// delta transfer that usually follows a differing digest.
///
/// A file whose size matches but whose mtime does not is compared by a digest on both sides
/// (its MD5, or from 64 MiB with a peer its ``BlockDigest``);
/// when the digests differ, the receiving side needs its old copy's signatures and the
/// sending side the signatures of its own blocks. Computing them in the digest's read saves
/// a full pass over each copy. They are kept only for the file's unchanged version (see
/// ``FileVersion``), handed out for the last time to the delta's reader or receiver, and only
/// for a bounded number of blocks.
public final class KeptSignatures: Sendable {
    /// Files from this size on get their signatures with their digest: below it a second
    /// read costs little.
    public static let minimumSize: Int64 = 8 << 20
    /// At most this many block signatures are kept (24 bytes each: 6 MiB).
    public static let blockLimit = 1 << 18

    private struct Kept {
        var path: RelativePath
        var version: FileVersion
        var signatures: BlockSignatures
    }

    private let kept = Mutex<[Kept]>([])

    public init() {}

    /// Keeps `signatures` of `version` of the file at `path`, replacing any kept for that path
    /// and dropping the oldest past the limit.
    public func keep(_ signatures: BlockSignatures, for path: RelativePath, version: FileVersion) {
        guard signatures.blocks.count <= Self.blockLimit else { return }
        kept.withLock { kept in
            kept.removeAll { $0.path == path }
            kept.append(Kept(path: path, version: version, signatures: signatures))
            var blocks = kept.reduce(0) { $0 + $1.signatures.blocks.count }
            while blocks > Self.blockLimit {
                blocks -= kept.removeFirst().signatures.blocks.count
            }
        }
    }

    /// The signatures kept for `path` if they were computed from `version`; either way they
    /// are no longer kept.
    public func take(_ path: RelativePath, version: FileVersion?) -> BlockSignatures? {
        let found = kept.withLock { kept -> Kept? in
            guard let index = kept.firstIndex(where: { $0.path == path }) else { return nil }
            return kept.remove(at: index)
        }
        guard let found, let version, found.version == version else { return nil }
        return found.signatures
    }

    /// The signatures kept for `path` if they were computed from `version`, still kept: a
    /// server hands a peer its old copy's signatures for a delta upload, then needs them
    /// again as the receiver of that delta.
    public func peek(_ path: RelativePath, version: FileVersion?) -> BlockSignatures? {
        guard let version else { return nil }
        return kept.withLock { kept in kept.first { $0.path == path && $0.version == version }?.signatures }
    }

    /// How many files' signatures are kept.
    public var count: Int { kept.withLock { $0.count } }
}
