import Foundation
import SyncCore
import SyncTrees

/// The MD5 of one path on both sides, the comparison of a file whose size matches but whose
/// mtime does not.
enum PairedDigests {
    /// From this size on, the two sides are read at the same time: each read is a full pass
    /// over the file on its own disk (or server), so for a large file side by side halves the wait.
    static let overlapFrom: Int64 = 1 << 20

    /// Both digests, each with its own outcome, so the caller decides which failure counts.
    static func md5(of path: RelativePath, _ first: any SyncTree, _ second: any SyncTree, size: Int64) -> (
        Result<String, any Error>, Result<String, any Error>
    ) {
        guard size >= overlapFrom else {
            return (Result { try first.md5(of: path) }, Result { try second.md5(of: path) })
        }
        // Across a network a differing digest leads to a delta transfer, which both sides'
        // signatures (computed in the same read) then serve.
        let preparing = first.batchesTransfers || second.batchesTransfers
        let other = OtherThread<Result<String, any Error>>()
        Thread.detachNewThread { other.finish(Result { try second.md5(of: path, preparingDelta: preparing) }) }
        let mine = Result { try first.md5(of: path, preparingDelta: preparing) }
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
        let other = OtherThread<[Result<String, any Error>]>()
        Thread.detachNewThread { other.finish(second.md5s(of: paths)) }
        let mine = first.md5s(of: paths)
        return Array(zip(mine, other.wait()))
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
