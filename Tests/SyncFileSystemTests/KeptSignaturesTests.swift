import Foundation
import SyncCore
import SyncFileSystem
import SyncTestSupport
import SyncTrees
import Testing

/// The signatures a large file's MD5 read keeps for the delta that follows.
@Suite("Kept signatures")
struct KeptSignaturesTests {
    let scratch: TemporaryTree
    let tree: LocalTree
    let path = RelativePath("big.bin")
    var file: String { scratch.root + "/big.bin" }

    init() throws {
        let scratch = try TemporaryTree("signatures")
        self.scratch = scratch
        var generator = SystemRandomNumberGenerator()
        let content = (0..<(9 << 20) / 8).map { _ in generator.next() as UInt64 }
        try content.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: scratch.root + "/big.bin")) }
        try Data(repeating: 7, count: 4096).write(to: URL(fileURLWithPath: scratch.root + "/small.bin"))
        tree = try LocalTree(root: scratch.root)
    }

    /// The signatures of the file as it is now under `key`, read on their own.
    func freshSignatures(_ key: BlockKey) throws -> BlockSignatures {
        let size = Int64(try #require(try tree.entry(at: path)).size)
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: file))
        defer { try? handle.close() }
        return try BlockSignatures.compute(blockSize: BlockSignatures.blockSize(forFileSize: size), key: key) { buffer in
            let data = try handle.read(upToCount: buffer.count) ?? Data()
            data.copyBytes(to: buffer)
            return data.count
        }
    }

    @Test func theDigestIsUnchangedAndItsSignaturesServeTheBasisOnce() throws {
        let digest = try tree.md5(of: path, preparingDelta: true)
        #expect(digest == (try tree.md5(of: path)))
        #expect(tree.keptSignatures.count == 1)
        let basis = try #require(try tree.deltaBasis(for: path, source: nil))
        let kept = try #require(basis.keptSignatures)
        #expect(kept == (try freshSignatures(kept.key)))
        // A peer's request for them leaves them for the receive of its delta.
        #expect(try tree.deltaBasis(for: path, source: nil)?.keptSignatures == kept)
        #expect(tree.keptSignatures.count == 1)
    }

    @Test func theBlockDigestKeepsTheSameSignaturesAndMatchesAPlainRead() throws {
        let key = BlockKey.random()
        let digest = try tree.blockDigest(of: path, key: key)
        #expect(digest.hasPrefix(BlockDigest.prefix))
        let basis = try #require(try tree.deltaBasis(for: path, source: nil))
        #expect(basis.keptSignatures == (try freshSignatures(key)), "kept under the comparison's key")
        #expect(basis.keptVersion != nil)
        #expect(try tree.openFile(path).keptSignatures == (try freshSignatures(key)))
        #expect(try tree.openFile(path).keptSignatures == nil, "handed out once")
        #expect(digest == (try tree.readingBlockDigest(of: path, key: key)), "the same digest as a plain read through a reader")
        #expect(digest != (try tree.readingBlockDigest(of: path, key: .random())), "another key, another digest")
    }

    @Test func theyServeTheFilesReaderToo() throws {
        _ = try tree.md5(of: path, preparingDelta: true)
        let kept = try #require(try tree.openFile(path).keptSignatures)
        #expect(kept == (try freshSignatures(kept.key)))
        #expect(try tree.openFile(path).keptSignatures == nil, "handed out once")
    }

    @Test func withoutPreparingOrForASmallFileNothingIsKept() throws {
        _ = try tree.md5(of: path, preparingDelta: false)
        let small = RelativePath("small.bin")
        #expect(try tree.md5(of: small, preparingDelta: true) == (try tree.md5(of: small)))
        #expect(tree.keptSignatures.count == 0)
    }

    @Test func aFileChangedSinceItsDigestGetsNone() async throws {
        _ = try tree.md5(of: path, preparingDelta: true)
        // Same size, new content: the kept signatures describe the old content. (A clock tick
        // later: file times come from the kernel's coarse clock.)
        try await Task.sleep(for: .milliseconds(20))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
        try handle.seek(toOffset: 4 << 20)
        try handle.write(contentsOf: Data(repeating: 1, count: 1 << 20))
        try handle.close()
        #expect(try tree.openFile(path).keptSignatures == nil)
    }

    @Test func aReplacedFileGetsNone() throws {
        _ = try tree.md5(of: path, preparingDelta: true)
        // Another inode under the same name, with the same size and mtime.
        let modified = try #require(try FileManager.default.attributesOfItem(atPath: file)[.modificationDate])
        try FileManager.default.copyItem(atPath: file, toPath: file + ".new")
        try FileManager.default.setAttributes([.modificationDate: modified], ofItemAtPath: file + ".new")
        #expect(rename(file + ".new", file) == 0)
        #expect(try tree.deltaBasis(for: path, source: nil)?.keptSignatures == nil)
    }
}
