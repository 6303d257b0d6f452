import Foundation
import SyncCore
import SyncFileSystem
import SyncTestSupport
import SyncTrees
import Synchronization
import Testing

@Suite("Local tree")
struct LocalTreeTests {
    let scratch: TemporaryTree
    let root: String

    init() throws {
        scratch = try TemporaryTree("local")
        root = try scratch.directory("root")
    }

    @Test func listingIsSortedByBytesAndSetsTemporaryFilesAside() throws {
        try TemporaryTree.write(root, "b", "2")
        try TemporaryTree.write(root, "A", "1")
        try TemporaryTree.write(root, ".ha-sync-tmp.00000000000000ff", "partial")
        try TemporaryTree.symlink(root, RelativePath("link"), target: "b")
        try TemporaryTree.makeDirectories(root, RelativePath("dir"))
        #expect(mkfifo(root + "/fifo", 0o644) == 0)
        let listing = try LocalTree(root: root).list(.root)
        #expect(listing.entries.map { String(decoding: $0.name, as: UTF8.self) } == ["A", "b", "dir", "fifo", "link"])
        #expect(listing.entries.map(\.kind) == [.file, .file, .directory, .other, .symlink])
        #expect(listing.entries.last?.symlinkTarget == Array("b".utf8))
        #expect(listing.temporaryFiles == [Array(".ha-sync-tmp.00000000000000ff".utf8)])
    }

    @Test func aSymlinkInTheMiddleOfAPathIsNeverFollowed() throws {
        let outside = try scratch.directory("outside")
        try TemporaryTree.write(outside, "victim.txt", "do not touch")
        try TemporaryTree.symlink(root, RelativePath("escape"), target: outside)
        let tree = try LocalTree(root: root)
        #expect(throws: SyncTreeError.self) { try tree.list(RelativePath("escape")) }
        #expect(throws: SyncTreeError.self) { try tree.remove(RelativePath("escape/victim.txt"), kind: .file) }
        #expect(throws: SyncTreeError.self) { try tree.md5(of: RelativePath("escape/victim.txt")) }
        #expect(FileManager.default.fileExists(atPath: outside + "/victim.txt"))
    }

    /// The survey's cheap listing tells the same names and kinds as the full one.
    @Test func listingKindsOnlyAgreesWithTheFullListing() throws {
        try TemporaryTree.write(root, "file.txt", "x")
        try TemporaryTree.write(root, "dir/inner.txt", "y")
        symlink("file.txt", root + "/link")
        mkfifo(root + "/fifo", 0o600)
        let tree = try LocalTree(root: root)
        let full = try tree.list(.root).entries
        let kinds = try tree.listKinds(.root).entries
        #expect(kinds.map(\.name) == full.map(\.name))
        #expect(kinds.map(\.kind) == full.map(\.kind))
        #expect(Set(kinds.map(\.kind)) == [.file, .directory, .symlink, .other])
    }

    @Test func copyKeepsNanosecondMtimeAndPermissions() throws {
        let source = try scratch.directory("source")
        try TemporaryTree.write(
            source, RelativePath("f"), Array(repeating: 7, count: 3_000_000), modified: Timestamp(seconds: 1_650_000_000, nanoseconds: 987_654_321))
        chmod(source + "/f", 0o640)
        let report = try LocalTree(root: root).copyFile(
            RelativePath("f"), from: LocalTree(root: source), options: CopyOptions(), shouldStop: { false })
        #expect(report.bytesCopied == 3_000_000)
        let copied = try TreeSnapshot(root).items[RelativePath("f")]
        #expect(copied?.modified == Timestamp(seconds: 1_650_000_000, nanoseconds: 987_654_321))
        #expect(copied?.permissions == 0o640)
        #expect(copied?.content == Array(repeating: 7, count: 3_000_000))
    }

    @Test func aStoppedCopyLeavesNothingBehind() throws {
        let source = try scratch.directory("source")
        try TemporaryTree.write(source, RelativePath("f"), Array(repeating: 1, count: 1000))
        #expect(throws: SyncTreeError.self) {
            try LocalTree(root: root).copyFile(RelativePath("f"), from: LocalTree(root: source), options: CopyOptions(), shouldStop: { true })
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: root).isEmpty)
    }

    /// The stop hook runs inside the copy loop, so it can change the source mid-copy.
    @Test(arguments: [false, true])
    func aSourceThatGrowsDuringTheCopyIsRejected(verify: Bool) throws {
        let source = try scratch.directory("source")
        let file = try TemporaryTree.write(source, RelativePath("grow"), Array(repeating: 5, count: 100_000))
        let appended = Mutex(false)
        #expect {
            try LocalTree(root: root).copyFile(
                RelativePath("grow"), from: LocalTree(root: source), options: CopyOptions(verify: verify),
                shouldStop: {
                    appended.withLock { done in
                        if !done {
                            let handle = FileHandle(forWritingAtPath: file)!
                            handle.seekToEndOfFile()
                            handle.write(Data("more".utf8))
                            handle.closeFile()
                            done = true
                        }
                    }
                    return false
                })
        } throws: { error in
            (error as? SyncTreeError)?.code == .sourceChanged && "\(error)".contains("source changed during copy")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: root).isEmpty, "no temporary file and no final file")
    }

    /// A reader stops at the size it opened (``FileReader/checksSize``): its final check must
    /// then catch a file that grew after it was read that far.
    @Test func aReaderReadToItsSizeCatchesAFileThatGrewAfterwards() throws {
        let file = try TemporaryTree.write(root, RelativePath("grow"), Array(repeating: 5, count: 10_000))
        let reader = try LocalTree(root: root).openFile(RelativePath("grow"))
        #expect(reader.checksSize)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 10_000, alignment: 8)
        defer { buffer.deallocate() }
        #expect(try reader.read(into: buffer) == 10_000)
        try reader.checkUnchanged()
        let handle = FileHandle(forWritingAtPath: file)!
        handle.seekToEndOfFile()
        handle.write(Data("more".utf8))
        handle.closeFile()
        #expect {
            try reader.checkUnchanged()
        } throws: { error in
            (error as? SyncTreeError)?.code == .sourceChanged
        }
    }

    @Test func md5OfKnownContent() throws {
        try TemporaryTree.write(root, "abc", "abc")
        #expect(try LocalTree(root: root).md5(of: RelativePath("abc")) == "900150983cd24fb0d6963f7d28e17f72")
    }

    @Test func errorsNameThePathAndTheReason() throws {
        let tree = try LocalTree(root: root)
        do {
            _ = try tree.md5(of: RelativePath("missing/file"))
            Issue.record("must throw")
        } catch let error as SyncTreeError {
            #expect(error.code == .notFound)
            #expect("\(error)" == "open 'missing/file': No such file or directory")
        }
    }
}

extension LocalTree {
    /// A copy as the engine makes one: a reader on the source streamed into this tree.
    func copyFile(_ path: RelativePath, from source: LocalTree, options: CopyOptions, shouldStop: @Sendable () -> Bool) throws -> CopyReport {
        try receiveFile(path, from: source.openFile(path), options: options, shouldStop: shouldStop)
    }
}

@Suite("Local tree: a large folder examined on several threads")
struct LocalTreeFanOutTests {
    /// A fan-out that always splits (as on a slow mount) lists exactly what one thread lists.
    @Test func theFanOutListsWhatOneThreadLists() throws {
        let scratch = try TemporaryTree("fan-out")
        let root = try scratch.directory("root")
        for index in 0..<300 {
            try TemporaryTree.write(root, String(format: "file-%03d.txt", index), String(repeating: "x", count: index))
        }
        for index in 0..<5 {
            try TemporaryTree.symlink(root, RelativePath("link-\(index)"), target: "file-00\(index).txt")
            try TemporaryTree.makeDirectories(root, RelativePath("dir-\(index)"))
        }
        #expect(mkfifo(root + "/fifo", 0o644) == 0)
        try TemporaryTree.write(root, ".ha-sync-tmp.00000000000000ff", "partial")

        let alwaysSplit = StatFanOut(remoteMicrosPerStat: 0, namesPerThread: 7, maximumThreads: 6)
        let split = try LocalTree(root: root, statFanOut: alwaysSplit).list(.root)
        let single = try LocalTree(root: root).list(.root)
        #expect(split.entries.count == 311)
        #expect(split.entries == single.entries)
        #expect(split.temporaryFiles == single.temporaryFiles)
        #expect(split.failures.isEmpty)
        #expect(split.entries.first { $0.name == Array("link-3".utf8) }?.symlinkTarget == Array("file-003.txt".utf8))
        #expect(split.entries.first { $0.name == Array("file-299.txt".utf8) }?.size == 299)
    }
}
