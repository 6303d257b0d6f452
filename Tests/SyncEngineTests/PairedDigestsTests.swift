import SyncCore
import SyncTrees
import Synchronization
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
        let (first, second) = PairedDigests.digests(of: RelativePath("f"), a, b, size: size)
        #expect(try first.get() == a.md5(of: RelativePath("f")))
        #expect(try second.get() == b.md5(of: RelativePath("f")))
        #expect(try first.get() != second.get())

        let (missing, present) = PairedDigests.digests(of: RelativePath("f"), InMemoryTree(name: "empty"), b, size: size)
        #expect((try? missing.get()) == nil, "a file missing on one side fails only that side")
        #expect(try present.get() == b.md5(of: RelativePath("f")))
    }

    @Test func withAPeerOnOneSideBothDigestsPrepareADelta() throws {
        let size = PairedDigests.overlapFrom
        let content = String(repeating: "x", count: Int(size))
        let local = DigestRecordingTree(InMemoryTree(name: "local"), peer: false)
        let peer = DigestRecordingTree(InMemoryTree(name: "peer"), peer: true)
        local.base.setFile("f", content, modified: Self.t0)
        peer.base.setFile("f", content, modified: Self.t0)
        _ = PairedDigests.digests(of: RelativePath("f"), local, peer, size: size)
        #expect(local.preparing.withLock { $0 } == [true])
        #expect(peer.preparing.withLock { $0 } == [true])

        let other = DigestRecordingTree(InMemoryTree(name: "other"), peer: false)
        other.base.setFile("f", content, modified: Self.t0)
        _ = PairedDigests.digests(of: RelativePath("f"), local, other, size: size)
        #expect(local.preparing.withLock { $0 } == [true, false], "two local trees read the digest alone")
        #expect(other.preparing.withLock { $0 } == [false])
    }

    @Test func aLargeFileWithAPeerIsComparedByItsBlockDigestWhichTheAuditDoesNotRecord() throws {
        let size = PairedDigests.blocksFrom
        let local = DigestRecordingTree(InMemoryTree(name: "local"), peer: false)
        let peer = DigestRecordingTree(InMemoryTree(name: "peer"), peer: true)
        let content = String(repeating: "x", count: Int(size))
        local.base.setFile("f", content, modified: Self.t0)
        peer.base.setFile("f", content, modified: Self.t0)
        let (mine, theirs) = PairedDigests.digests(of: RelativePath("f"), local, peer, size: size)
        #expect(try mine.get() == theirs.get(), "the same content has the same block digest")
        #expect(try mine.get().hasPrefix(BlockDigest.prefix))
        #expect(PairedDigests.recorded(try mine.get()) == nil)
        #expect(local.preparing.withLock { $0 }.isEmpty && peer.preparing.withLock { $0 }.isEmpty, "no MD5 was read")

        peer.base.setFile("f", content.dropLast() + "y", modified: Self.t0)
        let (same, changed) = PairedDigests.digests(of: RelativePath("f"), local, peer, size: size)
        #expect(try same.get() != changed.get(), "a changed last byte changes the digest")

        let other = DigestRecordingTree(InMemoryTree(name: "other"), peer: false)
        other.base.setFile("f", content, modified: Self.t0)
        let (first, _) = PairedDigests.digests(of: RelativePath("f"), local, other, size: size)
        #expect(PairedDigests.recorded(try first.get()) == (try local.base.md5(of: RelativePath("f"))), "two local trees compare by MD5")
    }
}

/// A tree that records whether its digests were asked to prepare a delta; `peer` makes it
/// batch its transfers, as a network peer does.
final class DigestRecordingTree: ForwardingSyncTree, BatchingSyncTree, Sendable {
    let base: InMemoryTree
    let peer: Bool
    let preparing = Mutex<[Bool]>([])

    init(_ base: InMemoryTree, peer: Bool) {
        self.base = base
        self.peer = peer
    }

    var forwarded: any SyncTree { base }
    var prefersBatches: Bool { peer }

    func md5(of path: RelativePath, preparingDelta: Bool) throws -> String {
        preparing.withLock { $0.append(preparingDelta) }
        return try base.md5(of: path)
    }
}
