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
