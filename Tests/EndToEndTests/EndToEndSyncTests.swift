import Foundation
import SyncCore
import SyncTestSupport
import Testing

/// The built binary on real trees.
@Suite("ha-sync end to end")
struct EndToEndSyncTests {
    let tree: TemporaryTree
    let source: String
    let destination: String
    let logs: String

    init() throws {
        tree = try TemporaryTree("e2e")
        source = try tree.directory("src")
        destination = try tree.directory("dest")
        logs = tree.root + "/logs"
    }

    func arguments(_ extra: [String] = [], pair: String = "media", direction: String = "fwd") -> [String] {
        ["--src", source, "--dest", destination, "--pair", pair, "--direction", direction, "--log-dir", logs, "--output", "json"] + extra
    }

    @Test func oddNamesSyncExactlyAndTheRerunIsQuiet() async throws {
        let names: [[UInt8]] = [
            [0x69, 0x6E, 0x76, 0xE9, 0xFF],  // not UTF-8
            Array("new\nline".utf8),
            Array("-rf".utf8),
            Array("--dry-run".utf8),
            [UInt8](repeating: 0x4C, count: 255),
            Array("quote'\"; DROP TABLE sync_operations;--".utf8),
            Array("emoji 🎉".utf8),
            Array("back\\slash".utf8),
        ]
        for (index, name) in names.enumerated() {
            try TemporaryTree.write(source, RelativePath.root.appending(Array("dir".utf8)).appending(name), Array("content \(index)".utf8))
        }
        let first = try await HASyncProcess.run(arguments())
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.summary?["created"] as? Int == names.count + 1)
        #expect(try TreeSnapshot(source) == TreeSnapshot(destination))
        let paths = Set(first.jsonLines.compactMap { $0["path"] as? String })
        for name in names {
            #expect(paths.contains(RelativePath("dir").appending(name).escaped))
        }

        let second = try await HASyncProcess.run(arguments())
        #expect(second.status == 0)
        #expect(second.summary?["created"] as? Int == 0)
        #expect(second.summary?["updated"] as? Int == 0)
        #expect(second.jsonLines.filter { $0["type"] as? String == "operation" }.isEmpty)
    }

    @Test func dryRunPrintsThePlanAndTheRealRunDoesExactlyThat() async throws {
        try TemporaryTree.write(source, "a/new.txt", "new")
        try TemporaryTree.write(source, "changed.txt", "longer content", modified: Timestamp(seconds: 1_700_000_000))
        try TemporaryTree.write(destination, "changed.txt", "short", modified: Timestamp(seconds: 1_600_000_000))
        try TemporaryTree.write(source, "touched.txt", "same", modified: Timestamp(seconds: 1_700_000_000))
        try TemporaryTree.write(destination, "touched.txt", "same", modified: Timestamp(seconds: 1_600_000_000))
        try TemporaryTree.write(destination, "obsolete.txt", "x")
        for index in 0..<5 { try TemporaryTree.write(source, "keep\(index)", "k") }
        let before = try TreeSnapshot(destination, directoryTimes: true)

        let plan = try await HASyncProcess.run(arguments(["--dry-run", "--delete-missing"]))
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(try TreeSnapshot(destination, directoryTimes: true) == before)
        let real = try await HASyncProcess.run(arguments(["--delete-missing"]))
        #expect(real.status == 0, "\(real.stderr)")

        func operations(_ outcome: HASyncProcess.Outcome) -> Set<String> {
            Set(
                outcome.jsonLines.filter { $0["type"] as? String == "operation" }.map {
                    "\($0["operation"]!) \($0["path"]!) \($0["size_before"] ?? "-")"
                })
        }
        #expect(operations(plan) == operations(real))
        #expect(operations(plan).contains("delete obsolete.txt 1"))
        #expect(operations(plan).contains("update touched.txt 4"))
        #expect(plan.jsonLines.allSatisfy { $0["type"] as? String != "operation" || $0["dry_run"] as? Bool == true })
        #expect(plan.summary?["created"] as? Int == real.summary?["created"] as? Int)

        // The human form of the plan names every operation too.
        let text = try await HASyncProcess.run(["--src", source, "--dest", destination, "--pair", "media", "--log-dir", logs, "--dry-run"])
        #expect(text.stdout.contains("would create 0, update 0"))
    }

    @Test func emptySourceGuardRefusesWithExitStatus3() async throws {
        try TemporaryTree.write(destination, "precious.txt", "p")
        let outcome = try await HASyncProcess.run(arguments(["--delete-missing", "--max-delete", "100"]))
        #expect(outcome.status == 3)
        #expect(outcome.stderr.contains("source directory is empty"))
        #expect(FileManager.default.fileExists(atPath: destination + "/precious.txt"))
    }

    @Test func maxDeleteGuardSaysHowToOverride() async throws {
        try TemporaryTree.write(source, "one", "1")
        for index in 0..<3 { try TemporaryTree.write(destination, "old\(index)", "o") }
        let refused = try await HASyncProcess.run(arguments(["--delete-missing"]))
        #expect(refused.status == 3)
        #expect(refused.stderr.contains("would delete 3 of 3 files"))
        #expect(refused.stderr.contains("--max-delete 100"))
        #expect(!FileManager.default.fileExists(atPath: destination + "/one"))

        let allowed = try await HASyncProcess.run(arguments(["--delete-missing", "--max-delete", "100"]))
        #expect(allowed.status == 0)
        #expect(allowed.summary?["deleted"] as? Int == 3)
    }

    @Test func emptyDirectoriesAreRemovedOnlyWithDeleteMissing() async throws {
        try TemporaryTree.write(source, "file", "f")
        try TemporaryTree.makeDirectories(destination, RelativePath("empty/inner"))
        try TemporaryTree.write(destination, "file", "f", modified: nil)
        let keep = try await HASyncProcess.run(arguments())
        #expect(keep.status == 0)
        #expect(FileManager.default.fileExists(atPath: destination + "/empty/inner"))
        let remove = try await HASyncProcess.run(arguments(["--delete-missing", "--max-delete", "100"]))
        #expect(remove.status == 0)
        #expect(!FileManager.default.fileExists(atPath: destination + "/empty"))
    }

    @Test func theLockFileLivesInTheLogDirectory() async throws {
        try TemporaryTree.write(source, "f", "x")
        let outcome = try await HASyncProcess.run(arguments(pair: "photos"))
        #expect(outcome.status == 0)
        #expect(FileManager.default.fileExists(atPath: logs + "/ha-sync-photos.lock"))
    }
}
