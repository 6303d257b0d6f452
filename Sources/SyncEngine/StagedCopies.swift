import SyncCore
import Synchronization

/// Copies that wait under temporary names for the end of the run (`--delay-updates`), in the
/// order they finished. Their results are reported when they are renamed into place, so the
/// audit trail never claims a file a reader cannot see yet.
final class StagedCopies: Sendable {
    struct Copy: Sendable {
        var planned: PlannedOperation
        var result: OperationResult
        var temporaryName: [UInt8]
    }

    private let copies = Mutex<[Copy]>([])

    func add(_ copy: Copy) {
        copies.withLock { $0.append(copy) }
    }

    /// Everything staged so far, emptying the list.
    func takeAll() -> [Copy] {
        copies.withLock { copies in
            defer { copies = [] }
            return copies
        }
    }
}
