import NIOCore
import RemoteProtocol
import SyncCore
import SyncTrees
import Testing

@Suite("Wire format")
struct WireFormatTests {
    @Test func entriesListingsAndErrorsRoundTrip() throws {
        let entries = [
            Entry(
                name: [0x69, 0xFF, 0x0A], kind: .file, size: 1 << 40, modified: Timestamp(seconds: -5, nanoseconds: 999_999_999), permissions: 0o4755),
            Entry(name: Array("link".utf8), kind: .symlink, size: 3, modified: Timestamp(seconds: 1_800_000_000), symlinkTarget: [0x2E, 0x2E, 0x2F]),
            Entry(name: Array("dir".utf8), kind: .directory, modified: Timestamp(seconds: 0)),
        ]
        let listing = DirectoryListing(
            entries: entries, temporaryFiles: [TemporaryName.make()],
            failures: [SyncTreeError(code: .permissionDenied, operation: "stat", path: RelativePath("a/b"), errno: 13)])
        var buffer = ByteBuffer()
        buffer.writeListing(listing)
        let decoded = try buffer.readListing()
        #expect(decoded.entries == entries)
        #expect(decoded.temporaryFiles == listing.temporaryFiles)
        #expect(decoded.failures.first?.code == .permissionDenied)
        #expect(decoded.failures.first?.detail == "Permission denied")
        #expect(buffer.readableBytes == 0)
    }

    @Test func everyTruncationIsAnErrorNeverACrash() throws {
        var full = ByteBuffer()
        full.writeEntry(
            Entry(name: Array("name".utf8), kind: .symlink, size: 9, modified: Timestamp(seconds: 12), symlinkTarget: Array("target".utf8)))
        full.writeAttributes(FileAttributes(size: 10, modified: Timestamp(seconds: 1), permissions: 0o600, owner: 0, group: 5))
        for length in 0..<full.readableBytes {
            var cut = full.getSlice(at: 0, length: length)!
            #expect(throws: WireError.self) {
                _ = try cut.readEntry()
                _ = try cut.readAttributes()
            }
        }
    }

    @Test func hostileLengthsAreRefusedBeforeAllocating() {
        var buffer = ByteBuffer()
        buffer.writeVarInt(UInt64(Int64.max))
        #expect(throws: WireError.self) { _ = try buffer.readBlob() }
        var tooLong = ByteBuffer(bytes: [UInt8](repeating: 0xFF, count: 11))
        #expect(throws: WireError.self) { _ = try tooLong.readVarInt() }
    }

    @Test func signedValuesAndOwnersSurvive() throws {
        var buffer = ByteBuffer()
        for value: Int64 in [0, -1, 1, .min, .max] { buffer.writeSigned(value) }
        for value: Int64 in [0, -1, 1, .min, .max] { #expect(try buffer.readSigned() == value) }
        let attributes = FileAttributes(size: 0, modified: Timestamp(seconds: 7), permissions: 0o644, owner: 0, group: nil)
        buffer.writeAttributes(attributes)
        #expect(try buffer.readAttributes() == attributes)
    }

    @Test func pathsThatCouldLeaveTheRootAreRefused() throws {
        for hostile in ["/etc", "..", "a/..", "../a", "a/./b", ".", "a//b", "a/", "x\u{0}"] {
            #expect(throws: RemotePathError.self, "\(hostile.debugDescription)") { _ = try RemotePath.validate(Array(hostile.utf8)) }
        }
        #expect(try RemotePath.validate([]) == .root)
        #expect(try RemotePath.validate(Array("a/..b/c...".utf8)) == RelativePath("a/..b/c..."))
        #expect(try RemotePath.validate([0x61, 0xFF, 0x2F, 0x0A]).bytes == [0x61, 0xFF, 0x2F, 0x0A])
    }

    @Test func addresses() throws {
        let url = try RemoteURL(parsing: "hasync://nas-a.lan:9000/media")
        #expect(url.host == "nas-a.lan" && url.port == 9000 && url.root == "media")
        #expect(url.baseURL == "https://nas-a.lan:9000/v1/media")
        #expect(try RemoteURL(parsing: "hasync://10.0.0.2/photos/").port == 7443)
        #expect(try RemoteURL(parsing: "hasync://[fd00::2]:7443/ai").baseURL == "https://[fd00::2]:7443/v1/ai")
        for bad in ["https://x/a", "hasync://x", "hasync://x:0/a", "hasync://x:99999/a", "hasync:///a", "hasync://x/a/b", "hasync://x/.."] {
            #expect(throws: RemoteURLError.self, "\(bad)") { _ = try RemoteURL(parsing: bad) }
        }
    }
}
