import Foundation
import SyncCore
import SyncTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A source that cannot be fully listed, and a destination that runs out of space: the run
/// reports the problem and loses nothing.
@Suite("ha-sync with unreadable folders and full disks", .serialized)
struct GuardAndDiskTests {
    let tree: TemporaryTree
    let source: String
    let destination: String
    let logs: String

    init() throws {
        tree = try TemporaryTree("guard-disk")
        source = try tree.directory("src")
        destination = try tree.directory("dest")
        logs = tree.root + "/logs"
    }

    func arguments(_ extra: [String] = []) -> [String] {
        ["--src", source, "--dest", destination, "--pair", "media", "--log-dir", logs, "--output", "json"] + extra
    }

    /// Root reads anything; drop the capabilities that let it, so the folder is really unreadable.
    var unprivileged: [String] { geteuid() == 0 ? ["/usr/bin/setpriv", "--bounding-set=-dac_override,-dac_read_search"] : [] }

    @Test func aListingErrorInTheSourceWithholdsEveryDeleteOfTheRun() async throws {
        try TemporaryTree.write(source, "ok/a.txt", "a")
        try TemporaryTree.write(source, "locked/kept.txt", "still on the source")
        try TemporaryTree.write(destination, "ok/a.txt", "a")
        try TemporaryTree.write(destination, "locked/kept.txt", "still on the source")
        try TemporaryTree.write(destination, "stray.txt", "deleted on the source long ago")
        chmod(source + "/locked", 0)
        defer { chmod(source + "/locked", 0o755) }

        let outcome = try await HASyncProcess.run(arguments(["--delete-missing", "--max-delete", "100"]), prefix: unprivileged)

        #expect(outcome.status == 2, "\(outcome.stderr)")
        #expect(outcome.summary?["deletes_withheld"] as? Int ?? 0 >= 1)
        #expect(outcome.summary?["deleted"] as? Int == 0)
        #expect(FileManager.default.fileExists(atPath: destination + "/locked/kept.txt"), "not listed is not missing")
        #expect(FileManager.default.fileExists(atPath: destination + "/stray.txt"), "no delete at all while part of the source is unreadable")
        #expect(outcome.stderr.contains("Permission denied"))
    }

    /// Needs root to mount a small tmpfs as the destination.
    @Test(.enabled(if: geteuid() == 0, "mounting a tmpfs needs root"))
    func aFullDestinationKeepsTheOriginalAndTheNextRunWithSpaceCompletesAsRoot() async throws {
        let mounted = try await CapturedProcess.run("/usr/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", destination])
        try #require(mounted.status == 0, "\(mounted.output)")
        defer { _ = try? CapturedProcess.runBlocking("/usr/bin/umount", [destination]) }
        let original = [UInt8](repeating: 0x6F, count: 100_000)
        try TemporaryTree.write(destination, RelativePath("big.bin"), original, modified: Timestamp(seconds: 1_600_000_000))
        let replacement = [UInt8](repeating: 0x6E, count: 3 << 20)
        try TemporaryTree.write(source, RelativePath("big.bin"), replacement, modified: Timestamp(seconds: 1_700_000_000))
        try TemporaryTree.write(source, "small.txt", "fits")

        let full = try await HASyncProcess.run(arguments())

        #expect(full.status == 2, "\(full.stderr)")
        #expect(full.summary?["failed"] as? Int == 1)
        #expect(full.stderr.contains("No space left on device"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: destination + "/big.bin")) == Data(original), "the original is intact")
        #expect(temporaryFiles(in: destination).isEmpty, "the failed copy's temporary file is gone")
        #expect(FileManager.default.fileExists(atPath: destination + "/small.txt"))

        let grown = try await CapturedProcess.run("/usr/bin/mount", ["-o", "remount,size=16m", destination])
        try #require(grown.status == 0, "\(grown.output)")
        let retry = try await HASyncProcess.run(arguments())
        #expect(retry.status == 0, "\(retry.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: destination + "/big.bin")) == Data(replacement))
    }
}
