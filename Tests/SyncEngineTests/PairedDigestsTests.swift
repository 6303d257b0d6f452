import SyncCore
import SyncTrees
import Testing

@testable import SyncEngine

@Suite("Both sides' digests")
struct PairedDigestsTests {
    static let t0 = Timestamp(seconds: 1_700_000_000)

    @Test(arguments: [Int64(10), PairedDigests.overlapFrom])
    func eachSideGetsItsOwnDigestAndItsOwnFailure(size: Int64) throws {
        let a = InMemoryTree(name: "a")
        let b = InMemoryTree(name: "b")
        let content = String(repeating: "x", count: Int(size))
        a.setFile("f", content, modified: Self.t0)
        b.setFile("f", content.uppercased(), modified: Self.t0)
        let (first, second) = PairedDigests.md5(of: RelativePath("f"), a, b, size: size)
        #expect(try first.get() == a.md5(of: RelativePath("f")))
        #expect(try second.get() == b.md5(of: RelativePath("f")))
        #expect(try first.get() != second.get())

        let (missing, present) = PairedDigests.md5(of: RelativePath("f"), InMemoryTree(name: "empty"), b, size: size)
        #expect((try? missing.get()) == nil, "a file missing on one side fails only that side")
        #expect(try present.get() == b.md5(of: RelativePath("f")))
    }
}
