import Logging
import SyncCore
import SyncEngine
import SyncTrees
import Synchronization
import Testing

/// A destination that batches like a peer and counts the calls that would each be an
/// exchange across the network.
final class ExchangeCountingTree: ForwardingSyncTree, BatchingSyncTree {
    struct Counts {
        var singleDigests = 0
        var digestBatches: [Int] = []
        var singleFinishes = 0
        var finishBatches: [Int] = []
        var singleMakes = 0
        var makeBatches: [Int] = []
        var singleReceives = 0
        var receiveBatches: [Int] = []
        var prefetches: [Int] = []
        var singleKeeps = 0
        var keepBatches: [Int] = []
    }

    /// Runs once, just before the first batch is received: a change someone makes meanwhile.
    let beforeReceiving = Mutex<(@Sendable () -> Void)?>(nil)
    /// Runs once, just before the first batch of versions is kept.
    let beforeKeeping = Mutex<(@Sendable () -> Void)?>(nil)

    let base: InMemoryTree
    let counts = Mutex(Counts())
    var forwarded: any SyncTree { base }
    var prefersBatches: Bool { true }
    var roundTripMicros: Double? { 1000 }

    init(_ base: InMemoryTree) { self.base = base }

    func md5(of path: RelativePath) throws -> String {
        counts.withLock { $0.singleDigests += 1 }
        return try base.md5(of: path)
    }

    func md5(of path: RelativePath, preparingDelta: Bool) throws -> String {
        try md5(of: path)
    }

    func digestBatch(_ paths: [RelativePath]) -> [Result<String, any Error>] {
        counts.withLock { $0.digestBatches.append(paths.count) }
        return base.md5s(of: paths)
    }

    func finishDirectory(_ path: RelativePath, permissions: UInt32, modified: Timestamp) throws {
        counts.withLock { $0.singleFinishes += 1 }
        try base.finishDirectory(path, permissions: permissions, modified: modified)
    }

    func receiveFile(_ path: RelativePath, from reader: any FileReader, options: CopyOptions, shouldStop: @Sendable () -> Bool) throws
        -> CopyReport
    {
        counts.withLock { $0.singleReceives += 1 }
        return try base.receiveFile(path, from: reader, options: options, shouldStop: shouldStop)
    }

    func receiveBatch(
        _ files: [IncomingFile], options: CopyOptions, shouldStop: @Sendable () -> Bool,
        completed: (Int, Result<CopyReport, any Error>) -> Void
    ) {
        counts.withLock { $0.receiveBatches.append(files.count) }
        beforeReceiving.withLock { hook in
            hook?()
            hook = nil
        }
        base.receiveFiles(files, options: options, shouldStop: shouldStop, completed: completed)
    }

    func keepVersion(of path: RelativePath, as versionPath: RelativePath, expected: Entry, keepOriginal: Bool) throws {
        counts.withLock { $0.singleKeeps += 1 }
        try base.keepVersion(of: path, as: versionPath, expected: expected, keepOriginal: keepOriginal)
    }

    func keepVersionBatch(_ versions: [VersionToKeep]) -> [Result<Bool, any Error>] {
        counts.withLock { $0.keepBatches.append(versions.count) }
        beforeKeeping.withLock { hook in
            hook?()
            hook = nil
        }
        return base.keepVersions(versions)
    }

    func prefetchFiles(_ files: [(path: RelativePath, size: Int64)]) {
        counts.withLock { $0.prefetches.append(files.count) }
    }

    func makeDirectory(_ path: RelativePath, replacing: EntryKind?) throws {
        counts.withLock { $0.singleMakes += 1 }
        try base.makeDirectory(path, replacing: replacing)
    }

    func makeDirectoryBatch(_ directories: [NewDirectory]) -> [(any Error)?] {
        counts.withLock { $0.makeBatches.append(directories.count) }
        return base.makeDirectories(directories)
    }

    func finishDirectoryBatch(_ directories: [FinishedDirectory]) -> [(any Error)?] {
        counts.withLock { $0.finishBatches.append(directories.count) }
        return base.finishDirectories(directories)
    }
}

@Suite("Exchanges with a peer")
struct PeerRoundTripsTests {
    let t0 = Timestamp(seconds: 1_700_000_000)
    let t1 = Timestamp(seconds: 1_700_000_600)

    @Test func aFoldersComparisonsShareOneDigestExchange() async throws {
        // 30 folders of 4 files, all newer on the source with the same size: two of each
        // folder's files really changed, two only got a new mtime.
        let source = InMemoryTree()
        let destination = ExchangeCountingTree(InMemoryTree())
        for folder in 0..<30 {
            for file in 0..<4 {
                let path = "d\(folder)/f\(file)"
                source.setFile(path, file < 2 ? "new-\(file)" : "same-\(file)", modified: t1)
                destination.base.setFile(path, file < 2 ? "old-\(file)" : "same-\(file)", modified: t0)
            }
        }
        let report = try await syncOneWay(source, destination)
        #expect(report.summary.updated == 120)
        #expect(report.summary.failed == 0)
        let counts = destination.counts.withLock { $0 }
        #expect(counts.singleDigests == 0, "no digest travels on its own")
        #expect(counts.digestBatches.count == 30, "one exchange per folder")
        #expect(counts.digestBatches.allSatisfy { $0 == 4 })
        for folder in 0..<30 {
            #expect(try destination.base.md5(of: RelativePath("d\(folder)/f0")) == source.md5(of: RelativePath("d\(folder)/f0")))
            #expect(try destination.base.entry(at: RelativePath("d\(folder)/f3"))?.modified == t1, "same content: the mtime follows")
        }
    }

    @Test func theVersionsOfReplacedFilesAreKeptInOneExchange() async throws {
        // 10 folders of 3 files: f0 changed (same size), f1 rewritten (new size), f2 the same.
        let source = InMemoryTree()
        let destination = ExchangeCountingTree(InMemoryTree())
        for folder in 0..<10 {
            source.setFile("d\(folder)/f0", "new-\(folder)", modified: t1)
            source.setFile("d\(folder)/f1", "rewritten-\(folder)", modified: t1)
            source.setFile("d\(folder)/f2", "same-\(folder)", modified: t0)
            for file in 0..<3 { destination.base.setFile("d\(folder)/f\(file)", file == 2 ? "same-\(folder)" : "old-\(folder)", modified: t0) }
        }
        let report = try await syncOneWay(source, destination, versions: VersionSettings(runTime: t1, rules: KeepRules(rule: .last(5))))
        #expect(report.summary.updated == 20)
        #expect(report.summary.failed == 0)
        let counts = destination.counts.withLock { $0 }
        #expect(counts.singleKeeps == 0, "no version kept on its own")
        #expect(counts.keepBatches == [Int](repeating: 2, count: 10), "a folder's versions in one exchange")
        #expect(counts.singleReceives == 0)
        for folder in 0..<10 {
            #expect(destination.base.text(at: "d\(folder)/f0") == "new-\(folder)")
            #expect(destination.base.text(at: "d\(folder)/f1") == "rewritten-\(folder)")
            #expect(destination.base.text(at: ".ha-sync-versions/d\(folder)/f0~\(VersionName.stamp(t1))") == "old-\(folder)")
            #expect(destination.base.text(at: ".ha-sync-versions/d\(folder)/f1~\(VersionName.stamp(t1))") == "old-\(folder)")
        }
    }

    @Test func aFoldersNewSubfoldersAreMadeInOneExchange() async throws {
        // 40 new folders at the top, each with 3 new subfolders (one of them empty).
        let source = InMemoryTree()
        for folder in 0..<40 {
            for sub in 0..<3 {
                source.setDirectory("d\(folder)/s\(sub)", modified: t0)
                if sub > 0 { source.setFile("d\(folder)/s\(sub)/f", "x", modified: t0) }
            }
        }
        // A file where the source has a folder: replaced by it, in the same exchange.
        source.setDirectory("was-a-file", modified: t1)
        source.setFile("was-a-file/inside", "y", modified: t1)
        let destination = ExchangeCountingTree(InMemoryTree())
        destination.base.setFile("was-a-file", "old", modified: t0)
        let report = try await syncOneWay(source, destination)
        #expect(report.summary.failed == 0)
        let counts = destination.counts.withLock { $0 }
        #expect(counts.singleMakes == 0)
        #expect(counts.makeBatches.sorted() == [Int](repeating: 3, count: 40) + [41], "one exchange per folder with new subfolders")
        #expect(try destination.base.entry(at: RelativePath("d7/s0"))?.kind == .directory)
        #expect(try destination.base.entry(at: RelativePath("was-a-file"))?.kind == .directory)
        #expect(try destination.base.md5(of: RelativePath("was-a-file/inside")) == source.md5(of: RelativePath("was-a-file/inside")))
    }

    @Test func finishedDirectoriesShareExchanges() async throws {
        // 100 new folders: each one's permissions and mtime are set once its file is in.
        let source = InMemoryTree()
        for folder in 0..<100 {
            source.setDirectory("d\(folder)", modified: t0, permissions: 0o750)
            source.setFile("d\(folder)/f", "x", modified: t0)
        }
        let destination = ExchangeCountingTree(InMemoryTree())
        let report = try await syncOneWay(source, destination)
        #expect(report.summary.created == 200)
        let counts = destination.counts.withLock { $0 }
        #expect(counts.singleFinishes == 0)
        #expect(counts.finishBatches.reduce(0, +) == 100, "every folder finished, once")
        #expect(counts.finishBatches.count < 100 / 4, "in a few exchanges, not one per folder: \(counts.finishBatches)")
        for folder in 0..<100 {
            let entry = try destination.base.entry(at: RelativePath("d\(folder)"))
            #expect(entry?.modified == t0)
            #expect(entry?.permissions == 0o750)
        }
    }
}

@Suite("Exchanges with a peer, both ways")
struct BidirectionalPeerRoundTripsTests {
    let t0 = Timestamp(seconds: 1_700_000_000)
    let t1 = Timestamp(seconds: 1_700_000_600)

    var withVersions: SyncConfiguration {
        var configuration = SyncConfiguration()
        configuration.versions = VersionSettings(runTime: t1, rules: KeepRules(rule: .last(10)))
        return configuration
    }

    /// A local side and a peer holding the same files (`content-FOLDER-FILE`), synced once
    /// with versions on; the peer's counts start from zero after it.
    func syncedWithVersions(folders: Int, files: Int, content: String) async throws -> (InMemoryTree, ExchangeCountingTree, InMemoryStateArchive) {
        let a = InMemoryTree(name: "a")
        let b = ExchangeCountingTree(InMemoryTree(name: "b"))
        for folder in 0..<folders {
            for file in 0..<files {
                a.setFile("d\(folder)/f\(file)", "\(content)-\(folder)-\(file)", modified: t0)
                b.base.setFile("d\(folder)/f\(file)", "\(content)-\(folder)-\(file)", modified: t0)
            }
        }
        let archive = InMemoryStateArchive()
        let first = try await BidirectionalEngine(
            a: a, b: b, archive: archive, rules: BidirectionalRules(), configuration: withVersions, logger: Logger(label: "test")
        ).run()
        #expect(first.summary.changes == 0)
        b.counts.withLock { $0 = ExchangeCountingTree.Counts() }
        return (a, b, archive)
    }

    /// The next run, from the archive the first one left.
    func syncAgainWithVersions(_ a: InMemoryTree, _ b: ExchangeCountingTree, _ archive: InMemoryStateArchive) async throws -> SyncReport {
        try await BidirectionalEngine(
            a: a, b: b, archive: InMemoryStateArchive(archive.snapshot, fresh: false), rules: BidirectionalRules(),
            configuration: withVersions, logger: Logger(label: "test")
        ).run()
    }

    @Test func newFoldersAndFilesForAPeerTravelTogether() async throws {
        // 30 new folders on A, each with 2 subfolders holding 3 files; B is a peer, with 5
        // new files of its own.
        let a = InMemoryTree(name: "a")
        for folder in 0..<30 {
            for sub in 0..<2 {
                for file in 0..<3 { a.setFile("d\(folder)/s\(sub)/f\(file)", "\(folder)-\(sub)-\(file)", modified: t0) }
            }
        }
        let b = ExchangeCountingTree(InMemoryTree(name: "b"))
        for file in 0..<5 { b.base.setFile("only-b/x\(file)", "b\(file)", modified: t0, permissions: 0o600) }
        let archive = InMemoryStateArchive()
        let report = try await BidirectionalEngine(
            a: a, b: b, archive: archive, rules: BidirectionalRules(), configuration: SyncConfiguration(), observer: NullObserver(),
            logger: Logger(label: "test")
        ).run()
        #expect(report.summary.failed == 0)
        #expect(report.summary.created == 90 + 180 + 1 + 5)
        let counts = b.counts.withLock { $0 }
        #expect(counts.singleMakes == 0)
        #expect(counts.makeBatches.reduce(0, +) == 90)
        #expect(counts.makeBatches.count <= 31, "one exchange per folder with new subfolders at most: \(counts.makeBatches)")
        #expect(counts.singleReceives == 0, "no file travels on its own")
        #expect(counts.receiveBatches == [Int](repeating: 3, count: 60), "a folder's files in one exchange")
        #expect(counts.prefetches == [5], "B's new files fetched in one exchange")
        for folder in 0..<30 {
            #expect(b.base.text(at: "d\(folder)/s1/f2") == "\(folder)-1-2")
        }
        #expect(a.text(at: "only-b/x4") == "b4")
        #expect(try a.entry(at: RelativePath("only-b/x4"))?.permissions == 0o600)
        // The archive knows the new folders: a second run has nothing to do.
        let again = try await BidirectionalEngine(
            a: a, b: b, archive: InMemoryStateArchive(archive.snapshot, fresh: false), rules: BidirectionalRules(),
            configuration: SyncConfiguration(), observer: NullObserver(), logger: Logger(label: "test")
        ).run()
        #expect(again.summary.changes == 0)
    }

    @Test func changedFilesForAPeerTravelTogetherWithTheirVersions() async throws {
        // 20 folders of 4 files, in sync. Then, in folders 0-9, A changes f0 (same size),
        // touches f1 (same content, new mtime) and rewrites f2 (new size); in folders 10-19
        // B, the peer, changes f0. While the changes travel, someone saves d3/f2 on B.
        let (a, b, archive) = try await syncedWithVersions(folders: 20, files: 4, content: "old")
        for folder in 0..<10 {
            a.setFile("d\(folder)/f0", "new-\(folder)-0", modified: t1)
            a.setFile("d\(folder)/f1", "old-\(folder)-1", modified: t1)
            a.setFile("d\(folder)/f2", "rewritten-\(folder)-2", modified: t1)
        }
        for folder in 10..<20 { b.base.setFile("d\(folder)/f0", "new-\(folder)-0", modified: t1) }
        let base = b.base
        b.beforeReceiving.withLock { $0 = { base.setFile("d3/f2", "saved on b meanwhile", modified: Timestamp(seconds: 1_700_000_900)) } }

        let report = try await syncAgainWithVersions(a, b, archive)
        #expect(report.summary.failed == 0)
        #expect(report.summary.updated == 10 + 10 + 9 + 10, "f0 both ways, f1's mtime, f2 but the one saved meanwhile")
        let counts = b.counts.withLock { $0 }
        #expect(counts.singleKeeps == 0, "no version kept on its own")
        #expect(counts.keepBatches.reduce(0, +) == 20, "f0 and f2 of folders 0-9 kept before being replaced on B")
        #expect(counts.singleDigests == 0, "no digest travels on its own")
        #expect(counts.digestBatches.reduce(0, +) == 30, "f0 and f1 of folders 0-9 and f0 of 10-19 compared")
        #expect(counts.singleReceives == 0, "no file travels on its own")
        #expect(counts.receiveBatches.count <= 10 && counts.receiveBatches.reduce(0, +) == 20)
        for folder in 0..<20 where folder != 3 {
            #expect(b.base.text(at: "d\(folder)/f0") == "new-\(folder)-0")
            #expect(a.text(at: "d\(folder)/f0") == "new-\(folder)-0")
            #expect(b.base.text(at: "d\(folder)/f2") == (folder < 10 ? "rewritten-\(folder)-2" : "old-\(folder)-2"))
        }
        #expect(try b.base.entry(at: RelativePath("d4/f1"))?.modified == t1, "same content: the mtime follows")
        #expect(b.base.text(at: "d3/f2") == "saved on b meanwhile", "a file saved during the run is never overwritten")
        #expect(a.text(at: "d3/f2") == "rewritten-3-2")
        // What the changes replaced on B is in its version store, with its old content.
        let stamp = VersionName.stamp(t1)
        #expect(b.base.text(at: ".ha-sync-versions/d5/f0~\(stamp)") == "old-5-0")
        #expect(b.base.text(at: ".ha-sync-versions/d5/f2~\(stamp)") == "old-5-2")
        #expect(a.text(at: ".ha-sync-versions/d15/f0~\(stamp)") == "old-15-0")
    }

    @Test func deletesForAPeerMoveIntoItsStoreTogether() async throws {
        // 40 files in sync; 6 deleted on A. While the run works, someone saves d1/f1 on B.
        let (a, b, archive) = try await syncedWithVersions(folders: 4, files: 10, content: "kept")
        for (folder, file) in [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (2, 5)] { try a.remove(RelativePath("d\(folder)/f\(file)"), kind: .file) }
        let base = b.base
        b.beforeKeeping.withLock { $0 = { base.setFile("d1/f1", "saved on b meanwhile", modified: Timestamp(seconds: 1_700_000_900)) } }

        let report = try await syncAgainWithVersions(a, b, archive)
        #expect(report.summary.failed == 0)
        #expect(report.summary.deleted == 5, "all but the file saved meanwhile")
        let counts = b.counts.withLock { $0 }
        #expect(counts.singleKeeps == 0, "no delete on its own")
        #expect(counts.keepBatches == [6], "the six in one exchange: \(counts.keepBatches)")
        #expect(b.base.text(at: "d0/f2") == nil)
        #expect(b.base.text(at: ".ha-sync-versions/d0/f2~\(VersionName.stamp(t1))") == "kept-0-2", "a delete is a move into the store")
        #expect(b.base.text(at: ".ha-sync-versions/d2/f5~\(VersionName.stamp(t1))") == "kept-2-5")
        #expect(b.base.text(at: "d1/f1") == "saved on b meanwhile", "a file saved during the run is never deleted")
    }
}
