import Foundation
import Logging
import StateArchiveSQLite
import SyncCore
import SyncTestSupport
import Testing

/// The SQLite state archive: what it stores comes back exactly, folder by folder in byte order;
/// removals reach exactly their subtree; an unusable file means a fresh archive, said aloud.
@Suite("SQLite state archive")
struct SQLiteStateArchiveTests {
    let tree: TemporaryTree
    let path: String
    let roots = (a: "/mnt/dell/photos", b: "/mnt/hp/photos")

    init() throws {
        tree = try TemporaryTree("archive")
        path = tree.root + "/state/photos.db"
    }

    func entry(_ name: [UInt8], kind: EntryKind = .file, size: Int64 = 3, seconds: Int64 = 1_700_000_000, nanos: Int64 = 42) -> Entry {
        Entry(
            name: name, kind: kind, size: size, modified: Timestamp(seconds: seconds, nanoseconds: nanos), permissions: 0o640,
            symlinkTarget: kind == .symlink ? Array("target".utf8) : nil)
    }

    @Test func storesFoldersInByteOrderAndRemovesExactlyASubtree() async throws {
        let archive = try await SQLiteStateArchive.open(path: path, roots: roots, logger: Logger(label: "test"))
        #expect(archive.isFresh && archive.notice == nil)
        let odd: [UInt8] = [0x66, 0xFF, 0x0A]  // not UTF-8, with a newline
        try await archive.record([
            .put(RelativePath("b.txt"), entry(Array("b.txt".utf8))),
            .put(RelativePath("a"), entry(Array("a".utf8), kind: .directory, size: 0)),
            .put(RelativePath("a.txt"), entry(Array("a.txt".utf8), seconds: -5, nanos: 7)),
            .put(RelativePath("a/x"), entry(Array("x".utf8))),
            .put(RelativePath("a/deep/y"), entry(Array("y".utf8))),
            .put(RelativePath("a0/z"), entry(Array("z".utf8))),
            .put(RelativePath.root.appending(odd), entry(odd, kind: .symlink)),
        ])
        try await archive.flush()
        let root = try await archive.children(of: .root)
        #expect(root.map(\.name) == [Array("a".utf8), Array("a.txt".utf8), Array("b.txt".utf8), odd])
        #expect(root[1].modified == Timestamp(seconds: -5, nanoseconds: 7))
        #expect(root[3].symlinkTarget == Array("target".utf8) && root[3].permissions == 0o640)
        #expect(try await archive.fileCount() == 6)

        try await archive.record([.removeTree(RelativePath("a"))])
        try await archive.flush()
        #expect(try await archive.children(of: .root).map(\.name) == [Array("a.txt".utf8), Array("b.txt".utf8), odd])
        #expect(try await archive.children(of: RelativePath("a")).isEmpty)
        #expect(try await archive.children(of: RelativePath("a/deep")).isEmpty)
        #expect(try await archive.children(of: RelativePath("a0")).map(\.name) == [Array("z".utf8)], "a sibling sharing the prefix stays")
        try await archive.record([.remove(RelativePath("b.txt"))])
        await archive.close()

        let reopened = try await SQLiteStateArchive.open(path: path, roots: roots, logger: Logger(label: "test"))
        #expect(!reopened.isFresh)
        #expect(try await reopened.children(of: .root).map(\.name) == [Array("a.txt".utf8), odd], "close flushed the last update")
        await reopened.close()
    }

    @Test func anArchiveOfOtherFoldersOrACorruptFileStartsAfresh() async throws {
        let archive = try await SQLiteStateArchive.open(path: path, roots: roots, logger: Logger(label: "test"))
        try await archive.record([.put(RelativePath("f"), entry(Array("f".utf8)))])
        await archive.close()

        let other = try await SQLiteStateArchive.open(path: path, roots: (a: "/mnt/dell/media", b: roots.b), logger: Logger(label: "test"))
        #expect(other.isFresh)
        #expect(other.notice?.contains("belongs to other folders") == true)
        #expect(try await other.children(of: .root).isEmpty)
        await other.close()

        try Data(repeating: 0x41, count: 8192).write(to: URL(fileURLWithPath: path))
        let corrupt = try await SQLiteStateArchive.open(path: path, roots: roots, logger: Logger(label: "test"))
        #expect(corrupt.isFresh)
        #expect(corrupt.notice?.contains("first run") == true)
        let aside = try FileManager.default.contentsOfDirectory(atPath: tree.root + "/state").filter { $0.contains(".unusable-") }
        #expect(aside.count == 2, "both unusable files were kept for a person to look at: \(aside)")
        await corrupt.close()
    }
}
