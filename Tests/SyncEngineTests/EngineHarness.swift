import Logging
import SyncCore
import SyncEngine
import SyncFileSystem
import SyncTestSupport
import SyncTrees
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Collects what the engine reports.
final class CollectingObserver: SyncObserver {
    private let state = Mutex<(results: [OperationResult], skips: [(RelativePath, SkipReason)])>(([], []))

    func operationFinished(_ result: OperationResult) {
        state.withLock { $0.results.append(result) }
    }

    func skipped(_ path: RelativePath, reason: SkipReason) {
        state.withLock { $0.skips.append((path, reason)) }
    }

    var results: [OperationResult] { state.withLock { $0.results } }
    var skips: [(RelativePath, SkipReason)] { state.withLock { $0.skips } }
}

/// A source and destination pair in a scratch directory.
struct Harness {
    let tree: TemporaryTree
    let source: String
    let destination: String

    init() throws {
        tree = try TemporaryTree("engine")
        source = try tree.directory("src")
        destination = try tree.directory("dest")
    }

    @discardableResult
    func sync(
        deleteMissing: Bool = false,
        maxDelete: Int = 50,
        dryRun: Bool = false,
        workers: Int = 4,
        verify: Bool = false,
        stop: StopSignal = StopSignal()
    ) async throws -> (report: SyncReport, results: [OperationResult]) {
        let observer = CollectingObserver()
        let engine = SyncEngine(
            source: try LocalTree(root: source),
            destination: try LocalTree(root: destination),
            configuration: SyncConfiguration(
                reconciler: ComparisonRules(deleteMissing: deleteMissing),
                deleteGuard: DeleteGuard(maxDeletePercent: maxDelete),
                workers: workers,
                dryRun: dryRun,
                copyOptions: CopyOptions(verify: verify)
            ),
            observer: observer,
            stopSignal: stop,
            logger: Logger(label: "test")
        )
        let report = try await engine.run()
        return (report, observer.results)
    }

    func write(_ path: String, _ text: String, at seconds: Int64? = nil) throws {
        try TemporaryTree.write(source, RelativePath(path), Array(text.utf8), modified: seconds.map { Timestamp(seconds: $0) })
    }

    func writeDestination(_ path: String, _ text: String, at seconds: Int64? = nil) throws {
        try TemporaryTree.write(destination, RelativePath(path), Array(text.utf8), modified: seconds.map { Timestamp(seconds: $0) })
    }

    func snapshots(directoryTimes: Bool = true) throws -> (TreeSnapshot, TreeSnapshot) {
        (try TreeSnapshot(source, directoryTimes: directoryTimes), try TreeSnapshot(destination, directoryTimes: directoryTimes))
    }
}

/// The comparable identity of an operation: what the dry-run idempotency check compares too.
struct OperationKey: Hashable, CustomStringConvertible {
    var operation: String
    var path: RelativePath
    var sizeBefore: Int64?

    init(_ result: OperationResult) {
        operation = result.operation?.rawValue ?? "error"
        path = result.path
        sizeBefore = result.sizeBefore
    }

    var description: String { "\(operation) \(path.escaped) \(sizeBefore.map(String.init) ?? "-")" }
}

/// A local tree whose copies find their source file gone, as when a user deletes a file
/// between the listing and the copy.
final class VanishingTree: ForwardingSyncTree {
    let inner: LocalTree
    let root: String
    let vanish: Set<RelativePath>

    init(root: String, vanish: Set<RelativePath> = []) throws {
        self.inner = try LocalTree(root: root)
        self.root = root
        self.vanish = vanish
    }

    var forwarded: any SyncTree { inner }

    func openFile(_ path: RelativePath) throws -> any FileReader {
        if vanish.contains(path) {
            _ = TemporaryTree.withCPath(TemporaryTree.path(root, path)) { unlink($0) }
        }
        return try inner.openFile(path)
    }
}

/// One one-way run between two trees as the peer tests make it: nothing deleted, 4 workers.
func syncOneWay<Source: SyncTree, Destination: SyncTree>(
    _ source: Source, _ destination: Destination, versions: VersionSettings? = nil
) async throws -> SyncReport {
    var configuration = SyncConfiguration(
        reconciler: ComparisonRules(deleteMissing: false), deleteGuard: DeleteGuard(maxDeletePercent: 100), workers: 4)
    configuration.versions = versions
    return try await SyncEngine(
        source: source, destination: destination, configuration: configuration, observer: NullObserver(), logger: Logger(label: "test")
    ).run()
}
