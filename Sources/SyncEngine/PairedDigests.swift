import Foundation
import SyncCore
import SyncTrees

/// The digest of one path on both sides, the comparison of a file whose size matches but
/// whose mtime does not: its MD5, or for a large file with a side across a network its
/// ``BlockDigest``.
enum PairedDigests {
    /// From this size on, the two sides are read at the same time: each read is a full pass
    /// over the file on its own disk (or server), so for a large file side by side halves the wait.
    static let overlapFrom: Int64 = 1 << 20

    /// From this size on, a file with a side across a network is compared by its block digest
    /// instead of its MD5. The delta transfer a difference leads to needs the blocks' hashes
    /// anyway, and verifies by them without a second pass; an MD5 would be a pass of its own
    /// over each copy (for a file of a gigabyte, longer than rsync's whole transfer of it).
    /// The audit then has no MD5 for the file (``recorded(_:)``).
    static let blocksFrom: Int64 = 64 << 20

    /// `digest` as the audit records it: an MD5, or nothing for a block digest.
    static func recorded(_ digest: String?) -> String? {
        digest.flatMap { BlockDigest.isMD5($0) ? $0 : nil }
    }

    /// Both digests, each with its own outcome, so the caller decides which failure counts.
    static func digests(of path: RelativePath, _ first: any SyncTree, _ second: any SyncTree, size: Int64) -> (
        Result<String, any Error>, Result<String, any Error>
    ) {
        guard size >= overlapFrom else {
            return (Result { try first.md5(of: path) }, Result { try second.md5(of: path) })
        }
        // Across a network a differing digest leads to a delta transfer, which both sides'
        // signatures (computed in the same read) then serve.
        let preparing = first.batchesTransfers || second.batchesTransfers
        // A block digest's key is the comparison's own: both sides use it, nobody else knows it.
        let key = preparing && size >= blocksFrom ? BlockKey.random() : nil
        let digest: @Sendable (any SyncTree) throws -> String = { tree in
            if let key { try tree.blockDigest(of: path, key: key) } else { try tree.md5(of: path, preparingDelta: preparing) }
        }
        return sideBySide({ Result { try digest(first) } }, { Result { try digest(second) } })
    }

    /// Both values, the second computed on a helper thread while the first is on this one.
    private static func sideBySide<Value: Sendable>(_ first: () -> Value, _ second: @escaping @Sendable () -> Value) -> (Value, Value) {
        let other = OtherThread<Value>()
        Thread.detachNewThread { other.finish(second()) }
        let mine = first()
        return (mine, other.wait())
    }

    /// The digests of several files below ``overlapFrom`` on both sides: a side across a
    /// network answers for all of them in one exchange; with both sides across one, the two
    /// exchanges wait side by side.
    static func md5s(of paths: [RelativePath], _ first: any SyncTree, _ second: any SyncTree) -> [(
        Result<String, any Error>, Result<String, any Error>
    )] {
        guard first.batchesTransfers && second.batchesTransfers else {
            return Array(zip(first.md5s(of: paths), second.md5s(of: paths)))
        }
        let (mine, theirs) = sideBySide({ first.md5s(of: paths) }, { second.md5s(of: paths) })
        return Array(zip(mine, theirs))
    }
}

/// A value computed on a helper thread.
private final class OtherThread<Value: Sendable>: @unchecked Sendable {
    private var result: Value?
    private let done = DispatchSemaphore(value: 0)

    func finish(_ outcome: Value) {
        result = outcome  // published by the semaphore
        done.signal()
    }

    func wait() -> Value {
        done.wait()
        return result!
    }
}
