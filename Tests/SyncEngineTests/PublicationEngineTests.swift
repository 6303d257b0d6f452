import Logging
import SyncCore
import SyncEngine
import SyncTestSupport
import SyncTrees
import Synchronization
import Testing

/// Ordered publication on one destination: `--publish-after`, `--publish-last`,
/// `--delay-updates`, `--min-age`, and files that change while they are copied.
@Suite("Ordered publication")
struct PublicationEngineTests {
    let t0 = Timestamp(seconds: 1_700_000_000)

    func engine(
        _ source: InMemoryTree, _ destination: InMemoryTree, publication: PublicationRules = PublicationRules(), delayUpdates: Bool = false,
        minAgeCutoff: Timestamp? = nil, deleteMissing: Bool = false, dryRun: Bool = false, observer: any SyncObserver = NullObserver(),
        stop: StopSignal = StopSignal()
    ) -> SyncEngine<InMemoryTree, InMemoryTree> {
        var configuration = SyncConfiguration(
            reconciler: ComparisonRules(deleteMissing: deleteMissing), deleteGuard: DeleteGuard(maxDeletePercent: 100), workers: 4, dryRun: dryRun)
        configuration.publication = publication
        configuration.delayUpdates = delayUpdates
        configuration.minAgeCutoff = minAgeCutoff
        return SyncEngine(
            source: source, destination: destination, configuration: configuration, observer: observer, stopSignal: stop,
            logger: Logger(label: "test"))
    }

    func jsonAfterImage() throws -> PublicationRules {
        PublicationRules(after: [try PublicationRules.parseAfter("*.json=${stem}.squashfs")])
    }

    /// Paths of successful creates and updates, in the order they were reported.
    func published(_ observer: CollectingObserver) -> [String] {
        observer.results.filter { $0.status == .success && ($0.action == .create || $0.action.isReplace) && $0.kind == .file }.map { "\($0.path)" }
    }

    @Test func anAnnouncementGoesInPlaceOnlyAfterItsImage() async throws {
        let source = InMemoryTree()
        let destination = InMemoryTree()
        for name in ["alpha", "beta"] {
            source.setFile("boot/\(name).json", "{}", modified: t0)
            source.setFile("boot/\(name).squashfs", String(repeating: "x", count: 5000), modified: t0)
        }
        source.setFile("boot/lonely.json", "{}", modified: t0)  // announces an image that is not there
        source.setFile("readme.txt", "r", modified: t0)
        let observer = CollectingObserver()
        let report = try await engine(source, destination, publication: try jsonAfterImage(), observer: observer).run()

        let order = published(observer)
        for name in ["alpha", "beta"] {
            let image = try #require(order.firstIndex(of: "boot/\(name).squashfs"))
            let announcement = try #require(order.firstIndex(of: "boot/\(name).json"))
            #expect(image < announcement, "\(order)")
        }
        #expect(destination.node(at: "boot/lonely.json") == nil, "an announcement of a missing image is withheld")
        #expect(observer.results.contains { $0.path == RelativePath("boot/lonely.json") && $0.action == .skip(.dependencyIncomplete) })
        #expect(report.summary.leftForLater == 1)
        #expect(report.status == .success)

        // Once the image exists, the next run publishes the announcement.
        source.setFile("boot/lonely.squashfs", "img", modified: t0)
        let second = try await engine(source, destination, publication: try jsonAfterImage()).run()
        #expect(destination.text(at: "boot/lonely.json") == "{}")
        #expect(second.summary.leftForLater == 0)
    }

    @Test func anImageThatFailsToCopyKeepsItsAnnouncementBack() async throws {
        let source = InMemoryTree()
        let destination = InMemoryTree()
        source.setFile("img.squashfs", "new image", modified: t0)
        source.setFile("img.json", "{\"v\":2}", modified: t0)
        destination.inject(.io, at: .write, path: "img.squashfs")
        let report = try await engine(source, destination, publication: try jsonAfterImage()).run()
        #expect(report.summary.failed == 1)
        #expect(destination.node(at: "img.json") == nil, "never announced while its image failed")
        #expect(report.summary.leftForLater == 1)
    }

    @Test func publishLastGoesAfterEverythingElse() async throws {
        let source = InMemoryTree()
        let destination = InMemoryTree()
        for index in 0..<40 { source.setFile("d\(index % 4)/f\(index)", "\(index)", modified: t0) }
        source.setFile("a/DONE", "ok", modified: t0)
        source.setFile("DONE", "ok", modified: t0)
        let observer = CollectingObserver()
        _ = try await engine(source, destination, publication: PublicationRules(last: [try PublicationRules.parseLast("DONE")]), observer: observer)
            .run()
        let order = published(observer)
        #expect(order.count == 42)
        #expect(Set(order.suffix(2)) == ["a/DONE", "DONE"], "\(order)")
    }

    @Test func aDryRunShowsTheAnnouncementsAfterTheRest() async throws {
        let source = InMemoryTree()
        let destination = InMemoryTree()
        source.setFile("x.json", "{}", modified: t0)
        source.setFile("x.squashfs", "img", modified: t0)
        source.setFile("y.json", "{}", modified: t0)
        let observer = CollectingObserver()
        _ = try await engine(source, destination, publication: try jsonAfterImage(), dryRun: true, observer: observer).run()
        let planned = observer.results.map { "\($0.path) \($0.action)" }
        #expect(published(observer) == ["x.squashfs", "x.json"], "\(planned)")
        #expect(observer.results.contains { $0.path == RelativePath("y.json") && $0.action == .skip(.dependencyIncomplete) })
        #expect(destination.node(at: "x.json") == nil)
    }

    @Test func deletesTakeTheAnnouncementFirst() async throws {
        let source = InMemoryTree()
        let destination = InMemoryTree()
        source.setFile("keep.txt", "k", modified: t0)
        destination.setFile("keep.txt", "k", modified: t0)
        destination.setFile("old.squashfs", "img", modified: t0)
        destination.setFile("old.json", "{}", modified: t0)
        let observer = CollectingObserver()
        let report = try await engine(source, destination, publication: try jsonAfterImage(), deleteMissing: true, observer: observer).run()
        let deletes = observer.results.filter { $0.action == .delete }.map { "\($0.path)" }
        #expect(deletes == ["old.json", "old.squashfs"])
        #expect(report.summary.deleted == 2)
    }

    @Test func delayedUpdatesAreAllCompleteBeforeTheFirstGoesInPlace() async throws {
        let source = InMemoryTree()
        let destination = InMemoryTree()
        for index in 0..<30 { source.setFile("d\(index % 3)/f\(index)", "new \(index)", modified: t0) }
        // When each result arrives, how many copies still wait under temporary names.
        let waitingAtReport = Mutex<[Int]>([])
        let observer = CallbackObserver { result in
            if result.kind == .file { waitingAtReport.withLock { $0.append(destination.stagedCount) } }
        }
        let report = try await engine(source, destination, delayUpdates: true, observer: observer).run()
        #expect(report.summary.created == 33)
        let waiting = waitingAtReport.withLock { $0 }
        // Reported as renamed: the first when the other 29 were still staged, the last with none.
        #expect(waiting == Array((0..<30).reversed()), "\(waiting)")
        #expect(destination.stagedCount == 0)
        #expect(destination.text(at: "d1/f4") == "new 4")
    }

    @Test func aStopBeforeTheRenamesLeavesTheOldTree() async throws {
        let source = InMemoryTree()
        let destination = InMemoryTree()
        for index in 0..<10 { source.setFile("f\(index)", "new", modified: t0.adding(nanoseconds: 1_000_000_000_000)) }
        for index in 0..<10 { destination.setFile("f\(index)", "old", modified: t0) }
        let stop = StopSignal()
        // The stop comes as the last file is opened: nine copies are staged, none renamed.
        let opened = Mutex(0)
        let hooked = OpenHookTree(base: source) {
            if opened.withLock({ count in
                count += 1
                return count == 10
            }) {
                stop.stop(reason: "test")
            }
        }
        let report = try await SyncEngine(
            source: hooked, destination: destination,
            configuration: {
                var configuration = SyncConfiguration(workers: 1)
                configuration.delayUpdates = true
                return configuration
            }(), stopSignal: stop, logger: Logger(label: "test")
        ).run()
        #expect(report.interruption != nil)
        #expect((0..<10).allSatisfy { destination.text(at: "f\($0)") == "old" }, "all old, none new")
        #expect(destination.stagedCount == 0, "the staged copies are removed")
    }

    @Test func youngFilesWaitForALaterRun() async throws {
        let source = InMemoryTree()
        let destination = InMemoryTree()
        let now = Timestamp(seconds: 1_800_000_000)
        source.setFile("settled.iso", "done", modified: now.adding(nanoseconds: -3_600_000_000_000))
        source.setFile("uploading.iso", "half", modified: now.adding(nanoseconds: -5_000_000_000))
        let report = try await engine(source, destination, minAgeCutoff: now.adding(nanoseconds: -60_000_000_000)).run()
        #expect(destination.text(at: "settled.iso") == "done")
        #expect(destination.node(at: "uploading.iso") == nil)
        #expect(report.summary.leftForLater == 1)
        #expect(report.status == .success)
        // Later the upload has settled.
        let later = try await engine(source, destination, minAgeCutoff: now.adding(nanoseconds: 60_000_000_000)).run()
        #expect(destination.text(at: "uploading.iso") == "half")
        #expect(later.summary.leftForLater == 0)
    }

    @Test func aFileThatChangesWhileCopiedIsLeftForLaterNotFailed() async throws {
        let source = InMemoryTree()
        let destination = InMemoryTree()
        source.setFile("growing.img", "partial", modified: t0)
        source.setFile("other", "o", modified: t0)
        source.inject(.sourceChanged, at: .open, path: "growing.img")
        let report = try await engine(source, destination).run()
        #expect(report.summary.failed == 0)
        #expect(report.summary.leftForLater == 1)
        #expect(destination.node(at: "growing.img") == nil)
        #expect(destination.text(at: "other") == "o")
    }
}

/// Calls a closure with each finished operation.
struct CallbackObserver: SyncObserver {
    let body: @Sendable (OperationResult) -> Void
    func operationFinished(_ result: OperationResult) { body(result) }
    func skipped(_ path: RelativePath, reason: SkipReason) {}
}

/// A tree that calls `onOpen` before each file is opened for a copy.
struct OpenHookTree: ForwardingSyncTree {
    let base: InMemoryTree
    let onOpen: @Sendable () -> Void

    var forwarded: any SyncTree { base }

    func openFile(_ path: RelativePath) throws -> any FileReader {
        onOpen()
        return try base.openFile(path)
    }
}
