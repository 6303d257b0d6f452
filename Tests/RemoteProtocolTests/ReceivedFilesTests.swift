import Crypto
import Foundation
import NIOCore
import RemoteProtocol
import SyncCore
import SyncFileSystem
import SyncTestSupport
import SyncTrees
import Testing

/// Content records written by a local tree, as the server writes what a client sends.
@Suite("Received files")
struct ReceivedFilesTests {
    let tree: TemporaryTree
    let root: String
    let modified = Timestamp(seconds: 1_700_000_000)

    init() throws {
        tree = try TemporaryTree("received")
        root = try tree.directory("root")
    }

    /// Records that rebuild `content` from the old copy's first `copied` bytes and a literal rest.
    func records(_ content: [UInt8], copied: Int) -> RecordStream {
        var wire = ByteBuffer()
        ContentRecord.writeCopy(offset: 0, length: Int64(copied), to: &wire)
        ContentRecord.writeLiteralHeader(length: content.count - copied, to: &wire)
        wire.writeBytes(content[copied...])
        ContentRecord.writeEnd(sha256: Array(SHA256.hash(data: content)), to: &wire)
        var pieces = [wire][...]
        return RecordStream { pieces.popFirst() }
    }

    @Test func aFileThatCannotReferToAnOldCopyFailsOnACopyRecordAndLeavesTheOldOne() throws {
        // Old copies large enough to be a delta's basis.
        let old = [UInt8](repeating: 7, count: 3 << 19)
        try TemporaryTree.write(root, RelativePath("f"), old)
        let new = [UInt8](repeating: 7, count: 1 << 20) + [UInt8](repeating: 9, count: 100)
        let local = try LocalTree(root: root)
        let attributes = FileAttributes(size: Int64(new.count), modified: modified, permissions: 0o644)

        // Allowed a basis: rebuilt from the old copy.
        let allowed = ContentReceiver(attributes: attributes, path: RelativePath("g"), stream: records(new, copied: 1 << 20))
        try TemporaryTree.write(root, RelativePath("g"), old)
        _ = try local.receiveFile(RelativePath("g"), from: allowed, options: CopyOptions(), shouldStop: { false })
        #expect(try TemporaryTree.read(root, RelativePath("g")) == new)

        // Not allowed one (the sender cannot have had signatures): the same records fail.
        let refused = ContentReceiver(
            attributes: attributes, path: RelativePath("f"), stream: records(new, copied: 1 << 20), wantsBasis: false)
        #expect(refused.wantsBasis == false)
        #expect(throws: SyncTreeError.self) {
            _ = try local.receiveFile(RelativePath("f"), from: refused, options: CopyOptions(), shouldStop: { false })
        }
        #expect(try TemporaryTree.read(root, RelativePath("f")) == old, "the old file is untouched")
        #expect(try FileManager.default.contentsOfDirectory(atPath: root).sorted() == ["f", "g"], "no temporary file left")
    }

    @Test func aDeltaVerifiedByBlocksTrustsTheOldCopysKeptHashesOnlyWhileItIsUnchanged() throws {
        let size = 16 << 20
        let blockSize = BlockSignatures.blockSize(forFileSize: Int64(size))
        var old = [UInt8](repeating: 0, count: size)
        for index in old.indices { old[index] = UInt8(truncatingIfNeeded: index &* 2_654_435_761 >> 13) }
        var new = old
        for index in (10 * blockSize)..<(11 * blockSize) { new[index] &+= 1 }
        let key = BlockKey.random()
        var expected = BlockDigest(size: Int64(size), blockSize: blockSize, key: key)
        new.withUnsafeBytes { expected.add($0) }
        let digest = expected.finalize()
        let attributes = FileAttributes(size: Int64(size), modified: modified, permissions: 0o644)

        /// Copies of every old block but the tenth, which is sent; `meanwhile` runs before the copy after it.
        func delta(_ path: String, digest: [UInt8], meanwhile: @escaping () -> Void = {}) -> ContentReceiver {
            var first = ByteBuffer()
            ContentRecord.writeBlockVerification(blockSize: blockSize, key: key, to: &first)
            ContentRecord.writeCopy(offset: 0, length: Int64(10 * blockSize), to: &first)
            ContentRecord.writeLiteralHeader(length: blockSize, to: &first)
            first.writeBytes(new[(10 * blockSize)..<(11 * blockSize)])
            var rest = ByteBuffer()
            ContentRecord.writeCopy(offset: Int64(11 * blockSize), length: Int64(size - 11 * blockSize), to: &rest)
            ContentRecord.writeEnd(sha256: digest, to: &rest)
            var pieces = [first, rest][...]
            return ContentReceiver(
                attributes: attributes, path: RelativePath(path),
                stream: RecordStream {
                    if pieces.count == 1 { meanwhile() }
                    return pieces.popFirst()
                })
        }

        let local = try LocalTree(root: root)
        for name in ["same", "changed", "wrong"] {
            try TemporaryTree.write(root, RelativePath(name), old)
            // The comparison's read keeps the old copy's signatures for the delta.
            _ = try local.blockDigest(of: RelativePath(name), key: key)
        }
        // The runs of whole blocks before and after the change are handed to the tree to copy itself.
        let probe = delta("same", digest: digest)
        probe.useBasis(try #require(try local.deltaBasis(for: RelativePath("same"), source: nil)))
        let run = try #require(try probe.takeBasisRun(limit: 1 << 30))
        #expect(run == (0, Int64(10 * blockSize)))
        #expect(try probe.takeBasisRun(limit: 1 << 30) == nil, "the changed block is read")

        let received = delta("same", digest: digest)
        _ = try local.receiveFile(RelativePath("same"), from: received, options: CopyOptions(), shouldStop: { false })
        #expect(try TemporaryTree.read(root, RelativePath("same")) == new)
        #expect(received.literalBytes == Int64(blockSize))

        // The old copy is written to during the transfer: its kept hashes no longer vouch for
        // what was copied, so nothing lands even though the digests agree.
        let changedPath = root + "/changed"
        let changing = delta("changed", digest: digest) {
            let handle = FileHandle(forWritingAtPath: changedPath)!
            try? handle.seek(toOffset: UInt64(20 * blockSize))
            handle.write(Data([0xAA]))
            try? handle.close()
        }
        #expect {
            _ = try local.receiveFile(RelativePath("changed"), from: changing, options: CopyOptions(), shouldStop: { false })
        } throws: { ($0 as? SyncTreeError)?.code == .targetChanged }
        var written = old
        written[20 * blockSize] = 0xAA
        #expect(try TemporaryTree.read(root, RelativePath("changed")) == written, "the old copy stays as it was written")

        // A digest that does not match what was rebuilt fails verification.
        let wrong = delta("wrong", digest: [UInt8](repeating: 1, count: 32))
        #expect {
            _ = try local.receiveFile(RelativePath("wrong"), from: wrong, options: CopyOptions(), shouldStop: { false })
        } throws: { ($0 as? SyncTreeError)?.code == .verificationFailed }
        #expect(try TemporaryTree.read(root, RelativePath("wrong")) == old)
        // Only the transfers' partial files stay (a later attempt resumes from them), never
        // under a final name.
        let partials = ["changed", "wrong"].map {
            String(decoding: TemporaryName.resumable(for: Array($0.utf8), size: Int64(size), modified: modified), as: UTF8.self)
        }
        #expect(try Set(FileManager.default.contentsOfDirectory(atPath: root)).subtracting(partials) == ["changed", "same", "wrong"])
    }

    @Test func aBatchAcrossFoldersLandsEachFileInItsOwnFolder() throws {
        try TemporaryTree.makeDirectories(root, RelativePath("a"))
        try TemporaryTree.makeDirectories(root, RelativePath("b"))
        let local = try LocalTree(root: root)
        let parents = ParentFolders()
        defer { parents.release() }
        let paths = ["a/1", "a/2", "b/1", "a/3", "b/2"]
        for path in paths {
            let content = Array("content of \(path)".utf8)
            let receiver = ContentReceiver(
                attributes: FileAttributes(size: Int64(content.count), modified: modified, permissions: 0o644), path: RelativePath(path),
                stream: records(content, copied: 0), wantsBasis: false)
            _ = try local.receiveFile(RelativePath(path), from: receiver, options: CopyOptions(), shouldStop: { false }, parents: parents)
        }
        for path in paths {
            #expect(try TemporaryTree.read(root, RelativePath(path)) == Array("content of \(path)".utf8))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/a").sorted() == ["1", "2", "3"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/b").sorted() == ["1", "2"])
    }
}
