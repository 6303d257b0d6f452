import Logging
import SyncCore
import SyncEngine
import SyncTestSupport
import SyncTrees
import Synchronization
import Testing

/// The bidirectional engine on trees and an archive in memory: the rules end to end, and
/// random histories checked against the invariants (nothing lost, both sides equal, a second
/// run empty).
@Suite("Bidirectional engine")
struct BidirectionalEngineTests {
    let t0 = Timestamp(seconds: 1_700_000_000)

    func time(_ offset: Int64) -> Timestamp { Timestamp(seconds: t0.seconds + offset) }

    @discardableResult
    func sync(
        _ a: InMemoryTree, _ b: InMemoryTree, _ archive: InMemoryStateArchive, dryRun: Bool = false, maxDelete: Int = 100,
        observer: CollectingObserver = CollectingObserver()
    ) async throws -> SyncReport {
        try await BidirectionalEngine(
            a: a, b: b, archive: archive, rules: BidirectionalRules(),
            configuration: SyncConfiguration(deleteGuard: DeleteGuard(maxDeletePercent: maxDelete), dryRun: dryRun),
            labels: SideLabels(a: "dell", b: "hp"), observer: observer, logger: Logger(label: "test")
        ).run()
    }

    /// Runs once to get both sides and the archive in step.
    func synced(_ files: [String: String]) async throws -> (InMemoryTree, InMemoryTree, InMemoryStateArchive) {
        let a = InMemoryTree(name: "a")
        let b = InMemoryTree(name: "b")
        for (path, text) in files { a.setFile(path, text, modified: t0) }
        let archive = InMemoryStateArchive()
        try await sync(a, b, archive)
        let archived = InMemoryStateArchive(archive.snapshot, fresh: false)
        return (a, b, archived)
    }

    @Test func aFileCreatedOnTheSecondarySurvivesAndTravels() async throws {
        let (a, b, archive) = try await synced(["keep.txt": "k"])
        b.setFile("new-on-hp.txt", "mine", modified: time(60))
        let report = try await sync(a, b, archive)
        #expect(a.text(at: "new-on-hp.txt") == "mine")
        #expect(b.text(at: "new-on-hp.txt") == "mine")
        #expect(report.summary.deleted == 0)
    }

    @Test func concurrentEditsKeepBothVersions() async throws {
        let (a, b, archive) = try await synced(["report.pdf": "v0"])
        a.setFile("report.pdf", "edit on dell", modified: time(100))
        b.setFile("report.pdf", "edit on hp, newer", modified: time(200))
        let observer = CollectingObserver()
        let report = try await sync(a, b, archive, observer: observer)
        #expect(report.summary.conflicts == 1)
        let copyName = "report.conflict-dell-" + Self.stamp(time(100)) + ".pdf"
        for tree in [a, b] {
            #expect(tree.text(at: "report.pdf") == "edit on hp, newer")
            #expect(tree.text(at: copyName) == "edit on dell")
        }
        let conflict = try #require(observer.results.first { $0.isConflict })
        #expect(conflict.side == .a)
        #expect(conflict.sizeBefore == 12 && conflict.sizeAfter == 17)
        #expect(conflict.md5Before != nil && conflict.md5After != nil && conflict.md5Before != conflict.md5After)
        // A conflict copy is a normal file from then on: the next run changes nothing.
        let again = try await sync(a, b, archive)
        #expect(again.summary.changes == 0 && again.summary.conflicts == 0)
    }

    @Test func aRestoreToAnOlderVersionPropagates() async throws {
        let (a, b, archive) = try await synced(["photo.jpg": "damaged!"])
        a.setFile("photo.jpg", "original", modified: time(-86_400))  // restored from backup, older mtime
        try await sync(a, b, archive)
        #expect(b.text(at: "photo.jpg") == "original")
        #expect(b.node(at: "photo.jpg")?.modified == time(-86_400))
    }

    @Test func deletesPropagateOnlyWhenTheOtherSideIsUnchanged() async throws {
        let (a, b, archive) = try await synced(["gone.txt": "g", "edited.txt": "e", "dir/kept.txt": "k", "dir/x.txt": "x", "stay.txt": "s"])
        try a.remove(RelativePath("gone.txt"), kind: .file)
        try a.remove(RelativePath("edited.txt"), kind: .file)
        b.setFile("edited.txt", "changed on hp", modified: time(50))
        // A deletes the whole folder; B changed one file in it.
        try a.remove(RelativePath("dir/kept.txt"), kind: .file)
        try a.remove(RelativePath("dir/x.txt"), kind: .file)
        try a.remove(RelativePath("dir"), kind: .directory)
        b.setFile("dir/kept.txt", "changed in a deleted folder", modified: time(60))
        let report = try await sync(a, b, archive)
        #expect(report.refusal == nil, "\(String(describing: report.refusal?.message))")
        #expect(b.node(at: "gone.txt") == nil)
        #expect(a.text(at: "edited.txt") == "changed on hp")
        #expect(a.text(at: "dir/kept.txt") == "changed in a deleted folder")
        #expect(b.node(at: "dir/x.txt") == nil && a.node(at: "dir/x.txt") == nil)
        let second = try await sync(a, b, archive)
        #expect(second.summary.changes == 0)
    }

    @Test func theFirstRunIsAUnionAndDeletesNothing() async throws {
        let a = InMemoryTree(name: "a")
        let b = InMemoryTree(name: "b")
        a.setFile("only-a.txt", "a", modified: t0)
        b.setFile("only-b.txt", "b", modified: t0)
        a.setFile("same.txt", "same", modified: time(10))
        b.setFile("same.txt", "same", modified: time(20))
        a.setFile("differs.txt", "older", modified: time(10))
        b.setFile("differs.txt", "newer!", modified: time(20))
        let archive = InMemoryStateArchive()
        let report = try await sync(a, b, archive)
        #expect(report.summary.deleted == 0 && report.summary.conflicts == 1)
        for tree in [a, b] {
            #expect(tree.text(at: "only-a.txt") == "a" && tree.text(at: "only-b.txt") == "b")
            #expect(tree.node(at: "same.txt")?.modified == time(20))  // settles on the newer
            #expect(tree.text(at: "differs.txt") == "newer!")
            #expect(tree.text(at: "differs.conflict-dell-\(Self.stamp(time(10))).txt") == "older")
        }
    }

    @Test func aDryRunChangesNothingAndReportsTheSides() async throws {
        let (a, b, archive) = try await synced(["x.txt": "x", "y.txt": "y"])
        a.setFile("x.txt", "new x", modified: time(10))
        try b.remove(RelativePath("y.txt"), kind: .file)
        let before = (a.paths, b.paths, archive.snapshot)
        let observer = CollectingObserver()
        try await sync(a, b, archive, dryRun: true, observer: observer)
        #expect(a.paths == before.0 && b.paths == before.1 && archive.snapshot == before.2)
        #expect(b.text(at: "x.txt") == "x")
        let planned = Set(observer.results.map { "\($0.path) \($0.side.map { "\($0)" } ?? "-") \($0.operation.map { "\($0)" } ?? "-")" })
        #expect(planned == ["x.txt b update", "y.txt a delete"])
    }

    @Test func guardsRefuseAnEmptySideAndTooManyDeletesAndChangeNothing() async throws {
        let files = Dictionary(uniqueKeysWithValues: (0..<10).map { ("f\($0).txt", "\($0)") })
        let (a, b, archive) = try await synced(files)
        // An unmounted export looks empty.
        let empty = InMemoryTree(name: "empty")
        let refused = try await sync(a, empty, archive)
        #expect(refused.refusal == .refuseEmptySide(root: "empty", archivedEntries: 10))
        #expect(a.paths.count == 10)
        // Six of ten deleted on B: over the 50% default.
        for index in 0..<6 { try b.remove(RelativePath("f\(index).txt"), kind: .file) }
        let tooMany = try await sync(a, b, archive, maxDelete: 50)
        #expect(tooMany.refusal == .refuseTooManyOnSide(root: "a", deletes: 6, archivedFiles: 10, maxPercent: 50))
        #expect(a.paths.count == 10)
        // Not sticky: once the files are back, the next run proceeds.
        for index in 0..<6 { b.setFile("f\(index).txt", "\(index)", modified: t0) }
        let fine = try await sync(a, b, archive, maxDelete: 50)
        #expect(fine.refusal == nil && fine.summary.changes == 0)
    }

    @Test func anUnlistableFolderDeletesNothingBelowIt() async throws {
        let (a, b, archive) = try await synced(["private/one.txt": "1", "private/two.txt": "2", "public.txt": "p"])
        a.inject(.permissionDenied, at: .list, path: "private")
        let report = try await sync(a, b, archive)
        #expect(report.sourceWalkFailed)
        #expect(b.text(at: "private/one.txt") == "1" && b.text(at: "private/two.txt") == "2")
    }

    @Test func aFileSavedDuringTheRunIsNotOverwritten() async throws {
        let (a, b, archive) = try await synced(["doc.txt": "v0"])
        a.setFile("doc.txt", "v1 from dell", modified: time(10))
        // B's copy is saved again between listing and the write: simulated by a target that
        // no longer matches what the plan expects.
        let observer = CollectingObserver()
        let saving = SavingTree(inner: b, path: "doc.txt", text: "saved on hp meanwhile", modified: time(20))
        let report = try await BidirectionalEngine(
            a: a, b: saving, archive: archive, rules: BidirectionalRules(), configuration: SyncConfiguration(), observer: observer,
            logger: Logger(label: "test")
        ).run()
        #expect(b.text(at: "doc.txt") == "saved on hp meanwhile")
        #expect(observer.results.contains { $0.action == .skip(.changedDuringRun) })
        #expect(report.summary.failed == 0)
        // The next run sees both changes: a conflict that keeps both.
        let next = try await sync(a, b, archive)
        #expect(next.summary.conflicts == 1)
        #expect(Set(b.paths.compactMap { b.text(at: $0.escaped) }) == ["v1 from dell", "saved on hp meanwhile"])
    }

    static func stamp(_ time: Timestamp) -> String {
        let utc = time.utc
        let pad = UTCDateTime.pad
        return pad(utc.year, 4) + pad(utc.month, 2) + pad(utc.day, 2) + "-" + pad(utc.hour, 2) + pad(utc.minute, 2) + pad(utc.second, 2)
    }
}

/// A tree that saves a file (as a person would) right after the run lists its folder.
final class SavingTree: SyncTree {
    let inner: InMemoryTree
    private let listings = Mutex(0)
    let path: String
    let text: String
    let modified: Timestamp

    init(inner: InMemoryTree, path: String, text: String, modified: Timestamp) {
        self.inner = inner
        self.path = path
        self.text = text
        self.modified = modified
    }

    var displayName: String { inner.displayName }
    func list(_ directory: RelativePath) throws -> DirectoryListing {
        let listing = try inner.list(directory)
        if RelativePath(path).parent == directory,
            listings.withLock({
                $0 += 1
                return $0
            }) == 1
        {
            inner.setFile(path, text, modified: modified)
        }
        return listing
    }
    func md5(of path: RelativePath) throws -> String { try inner.md5(of: path) }
    func openFile(_ path: RelativePath) throws -> any FileReader { try inner.openFile(path) }
    func receiveFile(_ path: RelativePath, from reader: any FileReader, options: CopyOptions, shouldStop: @Sendable () -> Bool) throws
        -> CopyReport
    { try inner.receiveFile(path, from: reader, options: options, shouldStop: shouldStop) }
    func makeDirectory(_ path: RelativePath, replacing: EntryKind?) throws { try inner.makeDirectory(path, replacing: replacing) }
    func finishDirectory(_ path: RelativePath, permissions: UInt32, modified: Timestamp) throws {
        try inner.finishDirectory(path, permissions: permissions, modified: modified)
    }
    func makeSymlink(_ path: RelativePath, target: [UInt8], modified: Timestamp) throws {
        try inner.makeSymlink(path, target: target, modified: modified)
    }
    func remove(_ path: RelativePath, kind: EntryKind) throws { try inner.remove(path, kind: kind) }
    func setModificationTime(_ path: RelativePath, to modified: Timestamp) throws { try inner.setModificationTime(path, to: modified) }
    func removeTemporaryFile(named name: [UInt8], in directory: RelativePath) throws {
        try inner.removeTemporaryFile(named: name, in: directory)
    }
    func entry(at path: RelativePath) throws -> Entry? { try inner.entry(at: path) }
    func rename(_ path: RelativePath, to newPath: RelativePath, expected: Entry) throws {
        try inner.rename(path, to: newPath, expected: expected)
    }
    func keepVersion(of path: RelativePath, as versionPath: RelativePath, expected: Entry, keepOriginal: Bool) throws {
        try inner.keepVersion(of: path, as: versionPath, expected: expected, keepOriginal: keepOriginal)
    }
}
