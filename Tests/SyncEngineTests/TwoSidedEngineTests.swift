import Logging
import SyncCore
import SyncEngine
import SyncFileSystem
import SyncTestSupport
import SyncTrees
import Testing

/// The engine with trees of different kinds on the two sides, and with trees in memory.
@Suite("Two-sided engine")
struct TwoSidedEngineTests {
    let t0 = Timestamp(seconds: 1_700_000_000, nanoseconds: 123)
    let t1 = Timestamp(seconds: 1_700_000_100)

    func engine<S: SyncTree, D: SyncTree>(
        _ source: S, _ destination: D, deleteMissing: Bool = false, dryRun: Bool = false, verify: Bool = false
    ) -> SyncEngine<S, D> {
        SyncEngine(
            source: source, destination: destination,
            configuration: SyncConfiguration(
                reconciler: ComparisonRules(deleteMissing: deleteMissing), dryRun: dryRun, copyOptions: CopyOptions(verify: verify)),
            logger: Logger(label: "test"))
    }

    @Test func memoryToMemoryCopiesUpdatesAndDeletes() async throws {
        let source = InMemoryTree(name: "a")
        let destination = InMemoryTree(name: "b")
        source.setFile("docs/new.txt", "fresh", modified: t1)
        source.setFile("same.txt", "same", modified: t0)
        source.setSymlink("link", target: "docs/new.txt", modified: t0)
        destination.setFile("same.txt", "same", modified: t0)
        destination.setFile("old/gone.txt", "bye", modified: t0)

        let report = try await engine(source, destination, deleteMissing: true, verify: true).run()

        #expect(report.summary.created == 3)  // docs/, docs/new.txt, link
        #expect(report.summary.deleted == 2)  // old/gone.txt, old/
        #expect(destination.text(at: "docs/new.txt") == "fresh")
        #expect(destination.node(at: "docs/new.txt")?.modified == t1)
        #expect(destination.node(at: "link")?.symlinkTarget == Array("docs/new.txt".utf8))
        #expect(destination.node(at: "old") == nil)
        #expect(destination.writeCount == 1)
        let second = try await engine(source, destination, deleteMissing: true).run()
        #expect(second.summary.created + second.summary.updated + second.summary.deleted == 0)
    }

    @Test func memorySourceIntoALocalDestination() async throws {
        let scratch = try TemporaryTree("two-sided")
        let root = try scratch.directory("dest")
        let source = InMemoryTree()
        source.setFile("a/b/c.txt", "bytes across kinds", modified: t0, permissions: 0o640)

        let report = try await engine(source, try LocalTree(root: root)).run()

        #expect(report.summary.failed == 0)
        let copied = try TreeSnapshot(root).items[RelativePath("a/b/c.txt")]
        #expect(copied?.content == Array("bytes across kinds".utf8))
        #expect(copied?.modified == t0)
        #expect(copied?.permissions == 0o640)
    }

    @Test func aLocalSourceIntoMemory() async throws {
        let scratch = try TemporaryTree("two-sided")
        let root = try scratch.directory("src")
        try TemporaryTree.write(root, "x/y.bin", "local bytes", modified: t1)
        let destination = InMemoryTree()

        _ = try await engine(try LocalTree(root: root), destination).run()

        #expect(destination.text(at: "x/y.bin") == "local bytes")
        #expect(destination.node(at: "x/y.bin")?.modified == t1)
    }

    @Test func aWriteFailureFailsOnePathAndTheRestGoesOn() async throws {
        let source = InMemoryTree()
        let destination = InMemoryTree()
        source.setFile("ok.txt", "fine", modified: t0)
        source.setFile("full.txt", "no room", modified: t0)
        destination.inject(.noSpace, at: .write, path: "full.txt")

        let report = try await engine(source, destination).run()

        #expect(report.summary.failed == 1)
        #expect(report.status == .partialFailure)
        #expect(destination.text(at: "ok.txt") == "fine")
        #expect(destination.node(at: "full.txt") == nil)
    }

    @Test func aListingErrorOnTheSourceWithholdsEveryDelete() async throws {
        let source = InMemoryTree()
        let destination = InMemoryTree()
        source.setFile("keep/a.txt", "a", modified: t0)
        source.setDirectory("secret")
        destination.setFile("keep/a.txt", "a", modified: t0)
        destination.setFile("secret/only-here.txt", "still needed", modified: t0)
        destination.setFile("stray.txt", "stray", modified: t0)
        source.inject(.permissionDenied, at: .list, path: "secret")

        let report = try await engine(source, destination, deleteMissing: true).run()

        #expect(report.deletesWithheld > 0)
        #expect(destination.text(at: "stray.txt") == "stray")
        #expect(destination.text(at: "secret/only-here.txt") == "still needed")
    }

    @Test func aDryRunWritesNothing() async throws {
        let source = InMemoryTree()
        let destination = InMemoryTree()
        source.setFile("a.txt", "a", modified: t0)
        destination.setFile("b.txt", "b", modified: t0)
        for name in ["c1.txt", "c2.txt"] {
            source.setFile(name, name, modified: t0)
            destination.setFile(name, name, modified: t0)
        }
        let before = destination.paths

        let report = try await engine(source, destination, deleteMissing: true, dryRun: true).run()

        #expect(report.summary.created == 1)
        #expect(report.summary.deleted == 1)
        #expect(destination.paths == before)
        #expect(destination.writeCount == 0)
    }
}
