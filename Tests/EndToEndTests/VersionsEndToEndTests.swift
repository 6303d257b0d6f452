import Foundation
import SyncCore
import SyncTestSupport
import Testing

/// `--versions` with the real binary: what a sync replaces or deletes is kept in the side's
/// `.ha-sync-versions/`, the keep rules prune it, and the store is never synced.
@Suite("ha-sync versions", .serialized)
struct VersionsEndToEndTests: ServerPairSuite {
    let pair: ServerPair

    init() throws {
        pair = try ServerPair("versions")
    }

    func run(_ extra: [String], expect status: Int32 = 0, prefix: [String] = []) async throws -> HASyncProcess.Outcome {
        let outcome = try await HASyncProcess.run(
            ["--src", a, "--dest", b, "--pair", "docs", "--log-dir", logs, "--output", "json"] + extra, prefix: prefix)
        #expect(outcome.status == status, "\(outcome.stderr)")
        return outcome
    }

    /// Every file under `root/.ha-sync-versions`, by path relative to the store.
    func versions(_ root: String) -> [String: String] {
        let store = root + "/.ha-sync-versions"
        var result: [String: String] = [:]
        for path in (FileManager.default.enumerator(atPath: store)?.allObjects as? [String]) ?? [] {
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: store + "/" + path, isDirectory: &isFolder), !isFolder.boolValue {
                result[path] = (try? String(contentsOfFile: store + "/" + path, encoding: .utf8)) ?? "<binary>"
            }
        }
        return result
    }

    @Test func oneWayUpdatesAndDeletesKeepTheOldVersionExactly() async throws {
        try TemporaryTree.write(a, "docs/plan.txt", "new plan", modified: time(100))
        try TemporaryTree.write(b, "docs/plan.txt", "old plan", modified: time(0))
        chmod(b + "/docs/plan.txt", 0o600)
        try TemporaryTree.write(b, "gone.txt", "removed on the source", modified: time(5))
        let outcome = try await run(["--delete-missing", "--versions"])
        #expect(outcome.summary?["versions_kept"] as? Int == 2)
        #expect(outcome.summary?["version_store_files"] as? Int == 2)
        #expect(outcome.summary?["version_store_bytes"] as? Int == 8 + 21)
        #expect(try String(contentsOfFile: b + "/docs/plan.txt", encoding: .utf8) == "new plan")
        #expect(!FileManager.default.fileExists(atPath: b + "/gone.txt"))
        let kept = versions(b)
        #expect(kept.count == 2, "\(kept)")
        let plan = try #require(kept.first { $0.key.hasPrefix("docs/plan.txt~") })
        #expect(plan.value == "old plan")
        var info = stat()
        lstat(b + "/.ha-sync-versions/" + plan.key, &info)
        #expect(info.st_mtim.tv_sec == Int(t0.seconds), "the version keeps its mtime")
        #expect(info.st_mode & 0o777 == 0o600, "and its mode")
        #expect(kept.contains { $0.key.hasPrefix("gone.txt~") && $0.value == "removed on the source" })
        // The operations are in the audit trail as `version` records.
        let recorded = outcome.jsonLines.filter { $0["operation"] as? String == "version" }.compactMap { $0["path"] as? String }
        #expect(recorded.count == 2 && recorded.allSatisfy { $0.hasPrefix(".ha-sync-versions/") })
        // The store is never synced back, and a second run changes nothing.
        let again = try await run(["--delete-missing", "--versions"])
        #expect(again.summary?["versions_kept"] as? Int == 0 && again.summary?["deleted"] as? Int == 0)
        #expect(!FileManager.default.fileExists(atPath: a + "/.ha-sync-versions"))
    }

    @Test func bidirectionalKeepsVersionsOnBothSidesByDefault() async throws {
        try TemporaryTree.write(a, "x.txt", "x0", modified: t0)
        try TemporaryTree.write(a, "y.txt", "y0", modified: t0)
        _ = try await run(["--bidirectional"])
        try TemporaryTree.write(b, "x.txt", "x1 from hp", modified: time(60))
        unlink(a + "/y.txt")
        _ = try await run(["--bidirectional"])
        #expect(versions(a).values.contains("x0"), "dell kept the version hp's edit replaced: \(versions(a))")
        #expect(versions(b).values.contains("y0"), "hp kept the file dell deleted: \(versions(b))")
        #expect(!FileManager.default.fileExists(atPath: b + "/y.txt"))
        let quiet = try await run(["--bidirectional"])
        #expect(quiet.summary?["created"] as? Int == 0 && quiet.summary?["deleted"] as? Int == 0)
    }

    @Test func pruningFollowsTheKeepRulesAndADryRunOnlyShowsIt() async throws {
        try TemporaryTree.write(a, "f.txt", "current", modified: t0)
        try TemporaryTree.write(b, "f.txt", "current", modified: t0)
        // Three old versions with explicit times in their names, and one unrelated file.
        for stamp in ["20250101T000000Z", "20250201T000000Z", "20250301T000000Z"] {
            try TemporaryTree.write(b, ".ha-sync-versions/f.txt~\(stamp)", stamp, modified: t0)
        }
        try TemporaryTree.write(b, ".ha-sync-versions/notes-by-hand.txt", "mine", modified: t0)
        let before = versions(b)
        let dry = try await run(["--versions", "--keep", "last=1", "--dry-run"])
        #expect(dry.summary?["versions_pruned"] as? Int == 2)
        #expect(versions(b) == before, "a dry run prunes nothing")
        let real = try await run(["--versions", "--keep", "last=1"])
        #expect(real.summary?["versions_pruned"] as? Int == 2)
        #expect(Set(versions(b).keys) == ["f.txt~20250301T000000Z", "notes-by-hand.txt"], "the newest stays; other files are never touched")
        let prunes = real.jsonLines.filter { $0["operation"] as? String == "prune" }.compactMap { $0["path"] as? String }
        #expect(Set(prunes) == [".ha-sync-versions/f.txt~20250101T000000Z", ".ha-sync-versions/f.txt~20250201T000000Z"])
    }

    @Test func listRestoreAndPruneCommands() async throws {
        try TemporaryTree.write(b, "cv.txt", "version one", modified: t0)
        try TemporaryTree.write(a, "cv.txt", "version two!", modified: time(100))
        _ = try await run(["--versions"])
        let listed = try await HASyncProcess.run(["versions", "list", "--root", b, "--path", "cv.txt", "--output", "json"])
        #expect(listed.status == 0, "\(listed.stderr)")
        let entries = listed.jsonLines.filter { $0["type"] as? String == "version" }
        #expect(entries.count == 1 && entries.first?["size"] as? Int == 11)
        let at = try #require(entries.first?["at"] as? String)

        // Restore: the exact bytes come back, and the current file is kept as a version itself.
        let restored = try await HASyncProcess.run([
            "versions", "restore", "--root", b, "--path", "cv.txt", "--at", at, "--pair", "docs", "--log-dir", logs,
        ])
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(try String(contentsOfFile: b + "/cv.txt", encoding: .utf8) == "version one")
        var info = stat()
        lstat(b + "/cv.txt", &info)
        #expect(info.st_mtim.tv_sec == Int(t0.seconds), "the restored file has the version's mtime")
        #expect(Set(versions(b).values) == ["version one", "version two!"])

        // Restore elsewhere, and an unknown time says what to do.
        let elsewhere = try await HASyncProcess.run(
            ["versions", "restore", "--root", b, "--path", "cv.txt", "--at", at, "--to", "old/cv.txt", "--pair", "docs", "--log-dir", logs])
        #expect(elsewhere.status == 0 && (try? String(contentsOfFile: b + "/old/cv.txt", encoding: .utf8)) == "version one", "\(elsewhere.stderr)")
        let unknown = try await HASyncProcess.run(
            ["versions", "restore", "--root", b, "--path", "cv.txt", "--at", "20000101T000000Z", "--pair", "docs", "--log-dir", logs])
        #expect(unknown.status != 0 && unknown.stderr.contains("versions list"))

        // Prune the whole store down to one version per file.
        let dry = try await HASyncProcess.run([
            "versions", "prune", "--root", b, "--keep", "last=1", "--dry-run", "--pair", "docs", "--log-dir", logs,
        ])
        #expect(dry.status == 0 && dry.stdout.contains("would prune 1 versions"), "\(dry.stdout)\(dry.stderr)")
        #expect(versions(b).count == 2)
        let pruned = try await HASyncProcess.run(["versions", "prune", "--root", b, "--keep", "last=1", "--pair", "docs", "--log-dir", logs])
        #expect(pruned.status == 0 && versions(b).count == 1, "\(pruned.stderr)")
    }

    @Test func aLongNameGetsAVersion() async throws {
        let name = String(repeating: "n", count: 251) + ".txt"
        try TemporaryTree.write(a, name, "new", modified: time(10))
        try TemporaryTree.write(b, name, "old", modified: t0)
        _ = try await run(["--versions"])
        let kept = versions(b)
        #expect(kept.count == 1 && kept.values.first == "old")
        #expect((kept.keys.first?.utf8.count ?? 999) <= 255)
    }

    @Test func anUnwritableStoreRefusesTheDeleteAndLosesNothing() async throws {
        try TemporaryTree.write(a, "keep.txt", "k", modified: t0)
        try TemporaryTree.write(b, "keep.txt", "k", modified: t0)
        try TemporaryTree.write(b, "doomed.txt", "still here", modified: t0)
        try FileManager.default.createDirectory(atPath: b + "/.ha-sync-versions", withIntermediateDirectories: true)
        chmod(b + "/.ha-sync-versions", 0o555)
        defer { chmod(b + "/.ha-sync-versions", 0o755) }
        let prefix = geteuid() == 0 ? ["/usr/bin/setpriv", "--bounding-set=-dac_override,-dac_read_search"] : []
        let outcome = try await run(["--delete-missing", "--versions", "--max-delete", "100"], expect: 2, prefix: prefix)
        #expect(outcome.stderr.contains("keep the old version"))
        #expect(try String(contentsOfFile: b + "/doomed.txt", encoding: .utf8) == "still here")
    }
}
