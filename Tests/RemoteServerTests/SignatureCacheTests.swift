import Foundation
import RemoteProtocol
import SyncCore
import SyncFileSystem
import SyncTestSupport
import SyncTrees
import Testing

@testable import RemoteServer

/// The signatures a large file's MD5 read leaves for the delta that follows.
@Suite("Signature cache")
struct SignatureCacheTests {
    let scratch: TemporaryTree
    let tree: LocalTree
    let path = RelativePath("big.bin")

    init() throws {
        let scratch = try TemporaryTree("signatures")
        self.scratch = scratch
        var generator = SystemRandomNumberGenerator()
        let content = (0..<(9 << 20) / 8).map { _ in generator.next() as UInt64 }
        try content.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: scratch.root + "/big.bin")) }
        try Data(repeating: 7, count: 4096).write(to: URL(fileURLWithPath: scratch.root + "/small.bin"))
        tree = try LocalTree(root: scratch.root)
    }

    /// The signatures of the file as it is now, read on their own.
    func freshSignatures() throws -> BlockSignatures {
        let basis = try #require(try tree.deltaBasis(for: path, source: nil))
        var offset: Int64 = 0
        return try BlockSignatures.compute(blockSize: BlockSignatures.blockSize(forFileSize: basis.size)) { buffer in
            let count = try basis.read(at: offset, into: buffer)
            offset += Int64(count)
            return count
        }
    }

    @Test func theDigestIsTheTreesAndTheSignaturesAreTheFilesOnce() throws {
        let cache = SignatureCache()
        #expect(try cache.md5(of: path, in: tree) == (try tree.md5(of: path)))
        #expect(cache.count == 1)
        let basis = try #require(try tree.deltaBasis(for: path, source: nil))
        #expect(cache.take(path, basis: basis) == (try freshSignatures()))
        #expect(cache.take(path, basis: basis) == nil, "handed out once")
        // A small file's digest is read as before, and leaves nothing.
        #expect(try cache.md5(of: RelativePath("small.bin"), in: tree) == (try tree.md5(of: RelativePath("small.bin"))))
        #expect(cache.count == 0)
    }

    @Test func aFileChangedSinceItsDigestGetsNoKeptSignatures() throws {
        let cache = SignatureCache()
        _ = try cache.md5(of: path, in: tree)
        // Same size, new content and mtime: the kept signatures describe the old content.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: scratch.root + "/big.bin"))
        try handle.seek(toOffset: 4 << 20)
        try handle.write(contentsOf: Data(repeating: 1, count: 1 << 20))
        try handle.close()
        let basis = try #require(try tree.deltaBasis(for: path, source: nil))
        #expect(cache.take(path, basis: basis) == nil)
    }

    @Test func aReplacedFileGetsNoKeptSignatures() throws {
        let cache = SignatureCache()
        _ = try cache.md5(of: path, in: tree)
        // Another inode under the same name, even with the same size and mtime.
        let file = scratch.root + "/big.bin"
        let attributes = try FileManager.default.attributesOfItem(atPath: file)
        try FileManager.default.copyItem(atPath: file, toPath: file + ".new")
        try FileManager.default.setAttributes([.modificationDate: attributes[.modificationDate]!], ofItemAtPath: file + ".new")
        #expect(rename(file + ".new", file) == 0)
        let basis = try #require(try tree.deltaBasis(for: path, source: nil))
        #expect(cache.take(path, basis: basis) == nil)
    }
}
