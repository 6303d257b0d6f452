import Foundation
import SyncCore
import SyncTestSupport
import Testing

/// Killed runs, signals, concurrent runs, unreadable and changing files. Serialized: these
/// copy large files and time their interventions, so they should not compete with each other.
@Suite("ha-sync under failure", .serialized)
struct FailureTests {
    let tree: TemporaryTree
    let source: String
    let destination: String
    let logs: String

    init() throws {
        tree = try TemporaryTree("failure")
        source = try tree.directory("src")
        destination = try tree.directory("dest")
        logs = tree.root + "/logs"
    }

    func arguments(_ extra: [String] = [], direction: String = "fwd") -> [String] {
        [
            "--src", source, "--dest", destination, "--pair", "games", "--direction", direction, "--log-dir", logs, "--output", "json", "--workers",
            "2",
        ] + extra
    }

    static let largeSize = 256 << 20
    /// Sparse: several seconds to copy with --verify, so there is time to interrupt the copy.
    static let longSize = 2 << 30

    @Test func anUnreadableFileIsAPartialFailureAndTheRestSyncs() async throws {
        try TemporaryTree.write(source, "ok/one.txt", "1")
        try TemporaryTree.write(source, "ok/two.txt", "2")
        try TemporaryTree.write(source, "secret.txt", "s")
        chmod(source + "/secret.txt", 0)
        // Root ignores permission bits; drop that capability so the file really is unreadable.
        let prefix = geteuid() == 0 ? ["/usr/bin/setpriv", "--bounding-set=-dac_override,-dac_read_search"] : []
        let outcome = try await HASyncProcess.run(arguments(), prefix: prefix)
        #expect(outcome.status == 2, "\(outcome.stderr)")
        #expect(outcome.summary?["failed"] as? Int == 1)
        #expect(outcome.summary?["status"] as? String == "partial_failure")
        #expect(outcome.stderr.contains("secret.txt"))
        #expect(outcome.stderr.contains("Permission denied"))
        #expect(FileManager.default.fileExists(atPath: destination + "/ok/one.txt"))
        #expect(FileManager.default.fileExists(atPath: destination + "/ok/two.txt"))
        #expect(!FileManager.default.fileExists(atPath: destination + "/secret.txt"))
        #expect(temporaryFiles(in: destination).isEmpty)
    }

    @Test func aSourceFileAppendedToDuringTheCopyIsLeftForTheNextRun() async throws {
        try writeSparseFile(source + "/growing.bin", size: Self.longSize)
        let run = try HASyncProcess(arguments(["--verify"]))
        #expect(try await waitUntil { !temporaryFiles(in: destination).isEmpty })
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: source + "/growing.bin"))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("appended".utf8))
        try handle.close()
        let outcome = try await run.wait()
        // Still being written: not a failure, and nothing half-copied goes into place.
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.summary?["left_for_later"] as? Int == 1)
        #expect(outcome.stderr.contains("still being written") && outcome.stderr.contains("source changed during copy"))
        #expect(!FileManager.default.fileExists(atPath: destination + "/growing.bin"))
        #expect(temporaryFiles(in: destination).isEmpty)

        let retry = try await HASyncProcess.run(arguments())
        #expect(retry.status == 0)
        let size = try FileManager.default.attributesOfItem(atPath: destination + "/growing.bin")[.size] as? Int
        #expect(size == Self.longSize + 8)
    }

    @Test func killDashNineMidCopyNeverExposesAPartialFile() async throws {
        let path = destination + "/big.bin"
        try writeLargeFile(source + "/big.bin", size: Self.largeSize, seed: 2)
        try writeLargeFile(path, size: 1 << 20, seed: 3)
        let old = try Data(contentsOf: URL(fileURLWithPath: path))
        // Make the source newer so the old destination copy is replaced.
        try TemporaryTree.setModified(source, RelativePath("big.bin"), Timestamp(seconds: 1_900_000_000))
        try TemporaryTree.setModified(destination, RelativePath("big.bin"), Timestamp(seconds: 1_600_000_000))

        let run = try HASyncProcess(arguments(["--verify"]))
        // Frozen mid-copy, then killed: a SIGKILL works on a stopped process.
        #expect(await freezeWhenTemporaryFileAppears(run, in: destination))
        run.signal(SIGKILL)
        let outcome = try await run.wait()
        #expect(outcome.terminatedBySignal)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == old, "the final name still holds the old file")
        #expect(!temporaryFiles(in: destination).isEmpty, "the killed run left its temporary file")

        let next = try await HASyncProcess.run(arguments())
        #expect(next.status == 0, "\(next.stderr)")
        #expect(next.summary?["temporary_files_removed"] as? Int == 1)
        #expect(temporaryFiles(in: destination).isEmpty)
        #expect(try TreeSnapshot(source) == TreeSnapshot(destination))
    }

    @Test func sigtermStopsDiscardsTheTemporaryFileAndReleasesTheLock() async throws {
        try writeSparseFile(source + "/big.bin", size: Self.longSize)
        let run = try HASyncProcess(arguments(["--verify"]))
        #expect(try await waitUntil { !temporaryFiles(in: destination).isEmpty })
        run.signal(SIGTERM)
        let outcome = try await run.wait()
        #expect(outcome.status == 143, "\(outcome.stderr)")
        #expect(outcome.stderr.contains("SIGTERM"))
        #expect(!FileManager.default.fileExists(atPath: destination + "/big.bin"))
        #expect(temporaryFiles(in: destination).isEmpty)

        let next = try await HASyncProcess.run(arguments())
        #expect(next.status == 0)
        #expect(next.summary?["created"] as? Int == 1, "the lock was released, so the next run synced")
    }

    @Test func twoRunsOfOnePairNeverOverlap() async throws {
        try writeSparseFile(source + "/big.bin", size: Self.longSize)
        let first = try HASyncProcess(arguments(["--verify"], direction: "dell-to-hp"))
        #expect(try await waitUntil { !temporaryFiles(in: destination).isEmpty })
        // The reverse direction shares the pair's lock.
        let second = try await HASyncProcess.run(
            ["--src", destination, "--dest", source, "--pair", "games", "--direction", "hp-to-dell", "--log-dir", logs, "--output", "json"])
        #expect(second.status == 0, "a held lock is not a failure")
        let locked = second.jsonLines.first { $0["type"] as? String == "locked" }
        #expect(locked?["holder"] as? String == "pid \(first.pid), direction dell-to-hp")
        #expect(second.stderr.contains("locked by another run"))
        let outcome = try await first.wait()
        #expect(outcome.status == 0)
        #expect(outcome.summary?["created"] as? Int == 1)
    }
}
