import SyncCore
import SyncTestSupport
import Testing

@testable import SyncFileSystem

#if canImport(Glibc)
import Glibc
#endif

/// The folder of a batch's last file stays open for the next file in it, and only for that.
@Suite("Parent folders held across a batch")
struct ParentFoldersTests {
    @Test func aFolderIsOpenedOnceForItsFilesAndAgainOnlyWhenTheFolderChanges() throws {
        let temporary = try TemporaryTree("parents")
        let root = try temporary.directory("root")
        try TemporaryTree.makeDirectories(root, RelativePath("a"))
        try TemporaryTree.makeDirectories(root, RelativePath("b"))
        let tree = try LocalTree(root: root)
        let other = try LocalTree(root: root)
        let parents = ParentFolders()
        var opened: [String] = []
        func folder(_ path: String, in tree: LocalTree) throws -> Int32 {
            try parents.descriptor(of: RelativePath(path), in: tree) {
                opened.append(path)
                return try tree.openBeneath(RelativePath(path), flags: O_RDONLY | O_DIRECTORY, operation: "test")
            }
        }
        let first = try folder("a", in: tree)
        #expect(try folder("a", in: tree) == first)
        _ = try folder("b", in: tree)
        _ = try folder("a", in: tree)
        _ = try folder("a", in: other)
        #expect(opened == ["a", "b", "a", "a"], "again for another folder, and for the same folder of another tree")
        parents.release()
        _ = try folder("a", in: tree)
        #expect(opened.count == 5, "released: opened again")
        parents.release()
    }
}
