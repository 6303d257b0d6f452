import Foundation
import SyncCore
import SyncTestSupport
import Testing

/// `--exclude`, `--include`, `--filter-from` and `.ha-sync-ignore` with the real binary, in
/// both modes: excluded paths are neither copied nor deleted, and excluded folders are not
/// even listed.
@Suite("ha-sync filters", .serialized)
struct FiltersEndToEndTests: ServerPairSuite {
    let pair: ServerPair

    init() throws {
        pair = try ServerPair("filters")
    }

    func run(_ extra: [String], expect status: Int32 = 0, prefix: [String] = []) async throws -> HASyncProcess.Outcome {
        let outcome = try await HASyncProcess.run(["--src", a, "--dest", b, "--pair", "cloud", "--log-dir", logs] + extra, prefix: prefix)
        #expect(outcome.status == status, "\(outcome.stderr)")
        return outcome
    }

    func exists(_ root: String, _ path: String) -> Bool { FileManager.default.fileExists(atPath: root + "/" + path) }

    @Test func excludedFilesAreNeitherCopiedNorDeletedAndTheFirstMatchWins() async throws {
        try TemporaryTree.write(a, "doc.txt", "d", modified: t0)
        try TemporaryTree.write(a, "upload.part", "half", modified: t0)
        try TemporaryTree.write(a, "keep.part", "wanted", modified: t0)
        try TemporaryTree.write(b, "old.part", "only on the destination", modified: t0)
        let outcome = try await run(["--delete-missing", "--max-delete", "100", "--include", "keep.part", "--exclude", "*.part", "--output", "json"])
        #expect(exists(b, "doc.txt") && exists(b, "keep.part"))
        #expect(!exists(b, "upload.part"), "excluded: not copied")
        #expect(exists(b, "old.part"), "excluded: not deleted")
        #expect(outcome.summary?["excluded"] as? Int == 2)
        // The run's audit row records the filter set it used.
        let query =
            "import sqlite3; r = sqlite3.connect('\(logs)/ha-sync.db').execute('SELECT filter_fingerprint, filter_rules FROM sync_iterations').fetchone(); print(r[0]); print(r[1])"
        let stored = try await CapturedProcess.run("/usr/bin/python3", ["-c", query])
        #expect(stored.output.contains("+ keep.part") && stored.output.contains("- *.part"), "\(stored.output)")
        #expect(stored.output.split(separator: "\n").first?.count == 16)
    }

    @Test func anExcludedFolderIsNotEvenListed() async throws {
        try TemporaryTree.write(a, "public/p.txt", "p", modified: t0)
        try TemporaryTree.write(a, "private/secret.txt", "s", modified: t0)
        chmod(a + "/private", 0)
        defer { chmod(a + "/private", 0o755) }
        let prefix = geteuid() == 0 ? ["/usr/bin/setpriv", "--bounding-set=-dac_override,-dac_read_search"] : []
        // Without the rule the unreadable folder is an error; excluded, it is never opened.
        _ = try await run([], expect: 2, prefix: prefix)
        let outcome = try await run(["--exclude", "/private/", "--dry-run", "--verbose"], prefix: prefix)
        #expect(outcome.stdout.contains("private") && outcome.stdout.contains("excluded"), "the dry run lists what was excluded")
        #expect(outcome.stderr.contains("- /private/"), "and by which rule: \(outcome.stderr)")
    }

    @Test func rulesFromAFileAndMistakesNameTheLine() async throws {
        try TemporaryTree.write(a, "a.log", "l", modified: t0)
        try TemporaryTree.write(a, "a.txt", "t", modified: t0)
        let rules = tree.root + "/rules.txt"
        try "# logs stay home\n- *.log\n".write(toFile: rules, atomically: true, encoding: .utf8)
        _ = try await run(["--filter-from", rules])
        #expect(exists(b, "a.txt") && !exists(b, "a.log"))
        try "ok.txt\n-nospace\n".write(toFile: rules, atomically: true, encoding: .utf8)
        let bad = try await run(["--filter-from", rules], expect: 64)
        #expect(bad.stderr.contains("rules.txt:2"))
    }

    @Test func anIgnoreFileOnOneSideReachesTheOtherAndTakesEffect() async throws {
        try TemporaryTree.write(a, "notes.txt", "n", modified: t0)
        _ = try await run(["--bidirectional"])
        // hp starts ignoring logs; dell writes one.
        try TemporaryTree.write(b, ".ha-sync-ignore", "# per-server logs\n*.log\n", modified: t0)
        try TemporaryTree.write(a, "server.log", "dell's log", modified: t0)
        _ = try await run(["--bidirectional"])
        #expect(exists(a, ".ha-sync-ignore"), "the ignore file is synced itself")
        #expect(!exists(b, "server.log"), "and honoured on both sides")
    }

    @Test func aPathNewlyExcludedInBidirectionalModeStaysOnBothSides() async throws {
        try TemporaryTree.write(a, "thumbs.cache", "c", modified: t0)
        try TemporaryTree.write(a, "photo.jpg", "p", modified: t0)
        _ = try await run(["--bidirectional"])
        #expect(exists(b, "thumbs.cache"))
        unlink(a + "/thumbs.cache")
        let outcome = try await run(["--bidirectional", "--exclude", "*.cache", "--output", "json"])
        #expect(exists(b, "thumbs.cache"), "an excluded path is never deleted")
        #expect(outcome.summary?["deleted"] as? Int == 0)
        // Included again: it is new on one side and travels (nothing deleted).
        _ = try await run(["--bidirectional"])
        #expect(exists(a, "thumbs.cache"))
    }
}
