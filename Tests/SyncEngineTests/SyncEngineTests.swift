import Foundation
import Logging
import SyncCore
import SyncEngine
import SyncFileSystem
import SyncTestSupport
import SyncTrees
import Testing

@Suite("Sync engine on real trees")
struct SyncEngineTests {
    /// A tree with a bit of everything.
    private func populate(_ harness: Harness) throws {
        try harness.write("top.txt", "top", at: 1_600_000_000)
        try harness.write("a/b/c/deep.txt", "deep", at: 1_600_000_100)
        try harness.write("a/sibling.txt", String(repeating: "x", count: 200_000), at: 1_600_000_200)
        try TemporaryTree.makeDirectories(harness.source, RelativePath("empty/dir"))
        try TemporaryTree.symlink(harness.source, RelativePath("a/link"), target: "../top.txt", modified: Timestamp(seconds: 1_600_000_300))
        try TemporaryTree.symlink(harness.source, RelativePath("dangling"), target: "/nowhere/at/all")
        try TemporaryTree.write(
            harness.source, RelativePath.root.appending([0x62, 0xFF, 0x0A, 0x2D]), [1, 2, 3],
            modified: Timestamp(seconds: 1_600_000_400, nanoseconds: 123_456_789))
        try TemporaryTree.write(harness.source, RelativePath.root.appending([UInt8](repeating: 0x6E, count: 255)), [9], modified: nil)
        // Directory mtimes last, since writing into a directory changes its mtime.
        try TemporaryTree.setModified(harness.source, RelativePath("a/b"), Timestamp(seconds: 1_500_000_000, nanoseconds: 5))
        try TemporaryTree.setModified(harness.source, RelativePath("empty"), Timestamp(seconds: 1_500_000_001))
    }

    @Test func firstSyncReproducesTheTreeAndAQuietRerunDoesNothing() async throws {
        let harness = try Harness()
        try populate(harness)
        let first = try await harness.sync()
        #expect(first.report.status == .success)
        #expect(first.report.summary.failed == 0)
        #expect(first.report.summary.created == 12)  // 7 files and symlinks + a, a/b, a/b/c, empty, empty/dir
        let (source, destination) = try harness.snapshots()
        #expect(source.differences(from: destination) == [])

        let second = try await harness.sync()
        #expect(second.report.summary.changes == 0)
        #expect(second.results.isEmpty)
        #expect(second.report.summary.skipped == 12)  // every entry, directories included
    }

    @Test(arguments: [1, 8])
    func workerCountDoesNotChangeTheResult(workers: Int) async throws {
        let harness = try Harness()
        for index in 0..<300 {
            try harness.write("d\(index % 7)/e\(index % 3)/f\(index)", String(repeating: "z", count: index), at: 1_600_000_000 + Int64(index))
        }
        let run = try await harness.sync(workers: workers)
        #expect(run.report.summary.created == 300 + 7 + 21)
        let (source, destination) = try harness.snapshots()
        #expect(source.differences(from: destination) == [])
    }

    @Test func newerSourceIsCopiedAndNewerDestinationIsKept() async throws {
        let harness = try Harness()
        try harness.write("changed.txt", "old", at: 1_600_000_000)
        try harness.write("theirs.txt", "ours", at: 1_600_000_000)
        try await harness.sync()
        try harness.write("changed.txt", "new and longer", at: 1_600_000_500)
        try harness.writeDestination("theirs.txt", "theirs, newer", at: 1_600_000_900)

        let run = try await harness.sync()
        #expect(run.report.summary.updated == 1)
        #expect(run.results.map(\.action) == [.update(.sourceNewer)])
        #expect(try TemporaryTree.read(harness.destination, RelativePath("changed.txt")) == Array("new and longer".utf8))
        #expect(try TemporaryTree.read(harness.destination, RelativePath("theirs.txt")) == Array("theirs, newer".utf8))
    }

    @Test func touchedButIdenticalFileOnlyGetsItsMtimeFixed() async throws {
        let harness = try Harness()
        try harness.write("same.txt", "identical", at: 1_600_000_000)
        try await harness.sync()
        try TemporaryTree.setModified(harness.source, RelativePath("same.txt"), Timestamp(seconds: 1_600_009_000, nanoseconds: 42))

        let run = try await harness.sync()
        let result = try #require(run.results.first)
        #expect(result.action == .setModificationTime)
        #expect(result.bytesTransferred == 0)
        #expect(result.md5Before == result.md5After)
        #expect(result.md5Before == "ee0cbdbacdada19376449799774976e8")  // md5("identical")
        #expect(run.report.summary.metadataOnly == 1)
        let (source, destination) = try harness.snapshots()
        #expect(source.differences(from: destination) == [])
        #expect(try await harness.sync().results.isEmpty)
    }

    @Test func sameSizeDifferentContentIsUpdatedWithBothHashes() async throws {
        let harness = try Harness()
        try harness.write("f", "aaaa", at: 1_600_000_000)
        try await harness.sync()
        try harness.write("f", "bbbb", at: 1_600_000_100)
        let run = try await harness.sync()
        let result = try #require(run.results.first)
        #expect(result.action == .update(.contentDiffers))
        #expect(result.md5Before == "74b87337454200d4d33f80c4663dc5e5")  // md5("aaaa")
        #expect(result.md5After == "65ba841e01d6db7733e90a5b7f9e6f80")  // md5("bbbb")
        #expect(try TemporaryTree.read(harness.destination, RelativePath("f")) == Array("bbbb".utf8))
    }

    @Test func verifyHashesEveryCopy() async throws {
        let harness = try Harness()
        try harness.write("v", "aaaa")
        let run = try await harness.sync(verify: true)
        #expect(run.results.first?.md5After == "74b87337454200d4d33f80c4663dc5e5")
    }

    @Test func destinationOnlyEntriesStayWithoutDeleteMissing() async throws {
        let harness = try Harness()
        try harness.write("keep.txt", "k")
        try harness.writeDestination("extra/only-here.txt", "e")
        let run = try await harness.sync()
        #expect(run.report.summary.deleted == 0)
        #expect(TemporaryTree.exists(harness.destination, RelativePath("extra/only-here.txt")))
    }

    @Test func deleteMissingRemovesFilesAndEmptyDirectoriesDeepestFirst() async throws {
        let harness = try Harness()
        for index in 0..<10 { try harness.write("keep/\(index).txt", "k") }
        try harness.writeDestination("gone/deeper/x.txt", "x")
        try harness.writeDestination("gone/y.txt", "y")
        try harness.writeDestination("keep/stale.txt", "s")
        try TemporaryTree.makeDirectories(harness.destination, RelativePath("empty/nested"))
        try TemporaryTree.setModified(harness.source, RelativePath("keep"), Timestamp(seconds: 1_500_000_000))

        // All 3 destination files go: allow it (the guard itself is tested below).
        let run = try await harness.sync(deleteMissing: true, maxDelete: 100)
        #expect(run.report.status == .success)
        #expect(run.report.summary.deleted == 7)  // 3 files, 4 directories
        let (source, destination) = try harness.snapshots()
        #expect(source.differences(from: destination) == [])  // includes keep/'s mtime, restored after the delete
    }

    @Test func emptySourceIsRefusedAndNothingIsTouched() async throws {
        let harness = try Harness()
        try harness.writeDestination("precious.txt", "p")
        let before = try TreeSnapshot(harness.destination, directoryTimes: true)
        let run = try await harness.sync(deleteMissing: true, maxDelete: 100)
        #expect(run.report.status == .failed)
        #expect(run.report.refusal == .refuseEmptySource(destinationEntries: 1))
        #expect(try TreeSnapshot(harness.destination, directoryTimes: true) == before)
    }

    @Test func tooManyDeletesAreRefusedBeforeAnyCopy() async throws {
        let harness = try Harness()
        try harness.write("new.txt", "n")
        for index in 0..<4 { try harness.writeDestination("old\(index).txt", "o") }
        let before = try TreeSnapshot(harness.destination, directoryTimes: true)
        let run = try await harness.sync(deleteMissing: true)
        #expect(run.report.refusal == .refuseTooMany(deletes: 4, destinationFiles: 4, maxPercent: 50))
        #expect(try TreeSnapshot(harness.destination, directoryTimes: true) == before)

        let allowed = try await harness.sync(deleteMissing: true, maxDelete: 100)
        #expect(allowed.report.status == .success)
        #expect(allowed.report.summary.deleted == 4)
        #expect(allowed.report.summary.created == 1)
    }

    @Test func dryRunChangesNothingAndPlansExactlyWhatTheRealRunDoes() async throws {
        let harness = try Harness()
        try populate(harness)
        try harness.writeDestination("a/sibling.txt", "older and different", at: 1_500_000_000)
        try harness.writeDestination("top.txt", "top", at: 1_599_000_000)  // same content, older: mtime only
        try harness.writeDestination("stale/x", "x")
        let before = try TreeSnapshot(harness.destination, directoryTimes: true)

        let plan = try await harness.sync(deleteMissing: true, maxDelete: 100, dryRun: true)
        #expect(try TreeSnapshot(harness.destination, directoryTimes: true) == before)
        #expect(plan.results.allSatisfy { $0.bytesTransferred == 0 })
        let real = try await harness.sync(deleteMissing: true, maxDelete: 100)
        #expect(Set(plan.results.map(OperationKey.init)) == Set(real.results.map(OperationKey.init)))
        #expect(plan.results.count == real.results.count)
        #expect(plan.report.summary.created == real.report.summary.created)
        #expect(plan.report.summary.metadataOnly == 1)
        #expect(real.report.summary.deleted == 2)
    }

    @Test func staleTemporaryFilesAreRemovedFromTheDestinationAndNeverCopied() async throws {
        let harness = try Harness()
        let stale = ".ha-sync-tmp.0123456789abcdef"
        try harness.write("dir/real.txt", "r")
        try harness.write("dir/\(stale)", "from the reverse job's killed run")
        try harness.writeDestination("dir/\(stale)", "partial")
        let run = try await harness.sync()
        #expect(run.report.temporaryFilesRemoved == 1)
        #expect(!TemporaryTree.exists(harness.destination, RelativePath("dir/\(stale)")))
        #expect(TemporaryTree.exists(harness.destination, RelativePath("dir/real.txt")))
        #expect(TemporaryTree.exists(harness.source, RelativePath("dir/\(stale)")))
    }

    @Test func symlinksAreCopiedAsLinksAndNeverFollowed() async throws {
        let harness = try Harness()
        let outside = try harness.tree.directory("outside")
        try TemporaryTree.symlink(harness.source, RelativePath("loop"), target: "loop")
        try TemporaryTree.symlink(harness.source, RelativePath("self"), target: ".")
        try TemporaryTree.symlink(harness.source, RelativePath("escape"), target: outside)
        try harness.write("sub/file.txt", "inside")
        // The destination has a symlink where the source has a directory: replace, never write through it.
        try TemporaryTree.symlink(harness.destination, RelativePath("sub"), target: outside, modified: Timestamp(seconds: 1_000))

        let run = try await harness.sync()
        #expect(run.report.summary.failed == 0)
        #expect(try TreeSnapshot(outside).items.isEmpty)
        let (source, destination) = try harness.snapshots()
        #expect(source.differences(from: destination) == [])
    }

    @Test func aDirectoryWhereTheSourceHasAFileIsAConflictAndLeftAlone() async throws {
        let harness = try Harness()
        try harness.write("thing", "file", at: 1_900_000_000)
        try harness.writeDestination("thing/inside.txt", "data")
        let run = try await harness.sync(deleteMissing: true, maxDelete: 100)
        #expect(run.report.summary.changes == 0)
        #expect(TemporaryTree.exists(harness.destination, RelativePath("thing/inside.txt")))
    }

    @Test func deepPathsSync() async throws {
        let harness = try Harness()
        let component = String(repeating: "d", count: 100)
        let deep = Array(repeating: component, count: 38).joined(separator: "/") + "/leaf.txt"  // about 3.8 KB
        try harness.write(deep, "leaf")
        let run = try await harness.sync()
        #expect(run.report.summary.failed == 0)
        #expect(try TemporaryTree.read(harness.destination, RelativePath(deep)) == Array("leaf".utf8))
    }

    @Test func aStoppedRunReportsTheInterruption() async throws {
        let harness = try Harness()
        try harness.write("a.txt", "a")
        let stop = StopSignal()
        stop.stop(reason: "received SIGTERM")
        let run = try await harness.sync(stop: stop)
        #expect(run.report.status == .failed)
        #expect(run.report.interruption == "received SIGTERM")
        #expect(!TemporaryTree.exists(harness.destination, RelativePath("a.txt")))
    }

    @Test func aFileThatVanishesBeforeItsCopyIsSkippedNotFailed() async throws {
        let harness = try Harness()
        try harness.write("stays.txt", "s")
        try harness.write("goes.txt", "g")
        let observer = CollectingObserver()
        let engine = SyncEngine(
            source: try VanishingTree(root: harness.source, vanish: [RelativePath("goes.txt")]),
            destination: try VanishingTree(root: harness.destination),
            configuration: SyncConfiguration(), observer: observer, logger: Logger(label: "test"))
        let report = try await engine.run()
        #expect(report.status == .success)
        #expect(report.summary.failed == 0)
        #expect(report.summary.created == 1)
        #expect(report.summary.skipped == 1)
        #expect(observer.results.contains { $0.path == RelativePath("goes.txt") && $0.action == .skip(.vanished) })
        #expect(TemporaryTree.exists(harness.destination, RelativePath("stays.txt")))
        #expect(try FileManager.default.contentsOfDirectory(atPath: harness.destination) == ["stays.txt"])
    }

    @Test func aMissingSourceRootIsAClearError() async throws {
        let harness = try Harness()
        #expect(throws: SyncTreeError.self) { try LocalTree(root: harness.source + "/missing") }
    }
}
