import Foundation
import SyncCore
import SyncTestSupport
import Testing

/// `ha-sync --bidirectional` as a user runs it: the real binary on real trees, with the state
/// archive in the log folder. Serialized: some tests freeze or kill runs and time their steps.
@Suite("ha-sync --bidirectional", .serialized)
struct BidirectionalEndToEndTests: ServerPairSuite {
    let pair: ServerPair

    init() throws {
        pair = try ServerPair("bidi")
    }

    func arguments(_ extra: [String] = []) -> [String] {
        ["--src", a, "--dest", b, "--pair", "photos", "--bidirectional", "--side-names", "dell,hp", "--log-dir", logs, "--output", "json"]
            + extra
    }

    @discardableResult
    func sync(_ extra: [String] = [], expect status: Int32 = 0, prefix: [String] = []) async throws -> HASyncProcess.Outcome {
        let outcome = try await HASyncProcess.run(arguments(extra), prefix: prefix)
        #expect(outcome.status == status, "\(outcome.stderr)")
        return outcome
    }

    func text(_ root: String, _ path: String) -> String? {
        (try? TemporaryTree.read(root, RelativePath(path))).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The names in a folder whose name marks a conflict copy.
    func conflictCopies(_ root: String) -> [String] {
        let names = (FileManager.default.enumerator(atPath: root)?.allObjects as? [String]) ?? []
        return names.filter { $0.contains(".conflict-") && !$0.hasPrefix(".ha-sync-versions/") }.sorted()
    }

    /// The version stores differ by design (each keeps what was replaced on its side).
    static func notVersions(_ path: RelativePath) -> Bool { path == VersionName.folderPath }

    func expectSidesEqual(_ context: String = "") throws {
        let left = try TreeSnapshot(a, ignoring: Self.notVersions)
        let right = try TreeSnapshot(b, ignoring: Self.notVersions)
        #expect(left == right, "\(context): \(left.differences(from: right))")
    }

    // MARK: The three data-loss situations of two one-way jobs

    @Test func aFileCreatedOnTheSecondaryIsKeptAndCopied() async throws {
        try TemporaryTree.write(a, "album/one.jpg", "1", modified: t0)
        try await sync()
        try TemporaryTree.write(b, "album/from-hp.jpg", "made on hp", modified: time(60))
        let outcome = try await sync()
        #expect(outcome.summary?["deleted"] as? Int == 0)
        #expect(text(a, "album/from-hp.jpg") == "made on hp")
        #expect(text(b, "album/from-hp.jpg") == "made on hp")
        #expect(try await sync().summary?["created"] as? Int == 0)
    }

    @Test func concurrentEditsKeepBothVersionsOnBothSides() async throws {
        try TemporaryTree.write(a, "report.pdf", "first", modified: t0)
        try await sync()
        try TemporaryTree.write(a, "report.pdf", "edited on dell", modified: time(100))
        try TemporaryTree.write(b, "report.pdf", "edited on hp, later", modified: time(200))
        let outcome = try await sync()
        #expect(outcome.summary?["conflicts"] as? Int == 1)
        let conflict = try #require(outcome.jsonLines.first { $0["conflict"] as? Bool == true })
        #expect(conflict["direction"] as? String == "b-to-a")
        #expect(conflict["md5_before"] as? String != nil && conflict["md5_after"] as? String != nil)
        for side in [a, b] {
            #expect(text(side, "report.pdf") == "edited on hp, later")
            #expect(conflictCopies(side).count == 1)
            #expect(conflictCopies(side).first.map { text(side, $0) } == "edited on dell")
            #expect(conflictCopies(side).first?.hasPrefix("report.conflict-dell-") == true)
            #expect(conflictCopies(side).first?.hasSuffix(".pdf") == true)
        }
        try expectSidesEqual()
        let again = try await sync()
        #expect(again.summary?["conflicts"] as? Int == 0)
        #expect(again.summary?["created"] as? Int == 0 && again.summary?["updated"] as? Int == 0)
    }

    @Test func aRestoreWithAnOlderMtimeIsNotReverted() async throws {
        try TemporaryTree.write(a, "photo.raw", "good", modified: t0)
        try await sync()
        try TemporaryTree.write(a, "photo.raw", "bad!", modified: time(500))  // damaged on dell
        try await sync()
        #expect(text(b, "photo.raw") == "bad!")
        try TemporaryTree.write(b, "photo.raw", "good", modified: t0)  // restored from backup on hp
        try await sync()
        #expect(text(a, "photo.raw") == "good")
        #expect(text(b, "photo.raw") == "good")
        #expect(conflictCopies(a).isEmpty)
    }

    // MARK: Every kind of change, dry run first

    @Test func aGridOfChangesOnBothSidesDryRunThenReal() async throws {
        // 20 files in sync, then every kind of change on one side, the other, or both.
        for index in 0..<20 { try TemporaryTree.write(a, "grid/f\(index).txt", "base \(index)", modified: t0) }
        try TemporaryTree.write(a, "grid/folder/inner.txt", "inner", modified: t0)
        try await sync()
        let edits: [(String, String, Int64)] = [
            ("f0", "edited on dell", 10), ("f2", "same size!!!", 10), ("f4", "base 4", -3600),
        ]
        for (name, content, offset) in edits { try TemporaryTree.write(a, "grid/\(name).txt", content, modified: time(offset)) }
        try TemporaryTree.write(b, "grid/f1.txt", "edited on hp", modified: time(20))
        try TemporaryTree.write(b, "grid/f3.txt", "base 3", modified: time(30))  // touched: same bytes, new mtime
        try TemporaryTree.write(a, "grid/f5.txt", "both, dell", modified: time(40))
        try TemporaryTree.write(b, "grid/f5.txt", "both, hp newer", modified: time(50))
        try TemporaryTree.write(a, "grid/f6.txt", "same on both", modified: time(40))
        try TemporaryTree.write(b, "grid/f6.txt", "same on both", modified: time(45))
        unlink(a + "/grid/f7.txt")
        unlink(b + "/grid/f8.txt")
        unlink(a + "/grid/f9.txt")
        unlink(b + "/grid/f9.txt")
        unlink(a + "/grid/f10.txt")
        try TemporaryTree.write(b, "grid/f10.txt", "changed where dell deleted", modified: time(60))
        try TemporaryTree.write(a, "grid/new-dell.txt", "new", modified: time(70))
        try TemporaryTree.write(b, "grid/new-hp.txt", "new", modified: time(70))
        try TemporaryTree.write(a, "grid/new-both.txt", "dell's", modified: time(70))
        try TemporaryTree.write(b, "grid/new-both.txt", "hp's version", modified: time(80))
        try FileManager.default.createDirectory(atPath: b + "/grid/empty-new", withIntermediateDirectories: true)
        try TemporaryTree.symlink(a, RelativePath("grid/link"), target: "f11.txt", modified: time(5))
        unlink(b + "/grid/folder/inner.txt")
        rmdir(b + "/grid/folder")

        let before = (try TreeSnapshot(a, directoryTimes: true), try TreeSnapshot(b, directoryTimes: true), inodes(a), inodes(b))
        let dry = try await sync(["--dry-run"])
        #expect(try TreeSnapshot(a, directoryTimes: true) == before.0)
        #expect(try TreeSnapshot(b, directoryTimes: true) == before.1)
        #expect(inodes(a) == before.2 && inodes(b) == before.3)
        let planned = Set(
            dry.jsonLines.filter { $0["type"] as? String == "operation" }.compactMap { line -> String? in
                guard let path = line["path"] as? String, let direction = line["direction"] as? String else { return nil }
                return "\(path) \(direction) \(line["conflict"] as? Bool == true ? "conflict" : line["operation"] as? String ?? "?")"
            })
        for expected in [
            "grid/f0.txt a-to-b update", "grid/f1.txt b-to-a update", "grid/f7.txt a-to-b delete", "grid/f8.txt b-to-a delete",
            "grid/f10.txt b-to-a create", "grid/new-dell.txt a-to-b create", "grid/new-hp.txt b-to-a create",
            "grid/f5.txt b-to-a conflict", "grid/new-both.txt b-to-a conflict", "grid/empty-new b-to-a create", "grid/link a-to-b create",
            "grid/folder/inner.txt b-to-a delete", "grid/folder b-to-a delete",
        ] {
            #expect(planned.contains(expected), "missing from the plan: \(expected); plan: \(planned.sorted())")
        }
        // The dry run is idempotent: a second one plans the same.
        let dryAgain = try await sync(["--dry-run"])
        #expect(dryAgain.summary?["created"] as? Int == dry.summary?["created"] as? Int)

        let real = try await sync()
        #expect(real.summary?["conflicts"] as? Int == 2)
        try expectSidesEqual("after the real run")
        #expect(text(a, "grid/f0.txt") == "edited on dell" && text(a, "grid/f1.txt") == "edited on hp")
        #expect(text(b, "grid/f2.txt") == "same size!!!")
        #expect(text(b, "grid/f4.txt") == "base 4")
        #expect(!FileManager.default.fileExists(atPath: a + "/grid/f7.txt") && !FileManager.default.fileExists(atPath: a + "/grid/f8.txt"))
        #expect(text(a, "grid/f10.txt") == "changed where dell deleted")
        #expect(text(a, "grid/f5.txt") == "both, hp newer" && text(a, "grid/new-both.txt") == "hp's version")
        #expect(Set(conflictCopies(a).compactMap { text(a, $0) }) == ["both, dell", "dell's"])
        #expect(!FileManager.default.fileExists(atPath: a + "/grid/folder"))
        #expect(FileManager.default.fileExists(atPath: a + "/grid/empty-new"))
        let third = try await sync()
        for counter in ["created", "updated", "deleted", "conflicts"] {
            #expect(third.summary?[counter] as? Int == 0, "\(counter) in the run after: \(third.stdout)")
        }
    }

    // MARK: Failures

    @Test func killedAtAnyMomentLeavesNothingPartialAndTheNextRunsConverge() async throws {
        for (round, delay) in [5, 40, 120, 300].enumerated() {
            for index in 0..<300 {
                try TemporaryTree.write(a, "r\(round)/a\(index).bin", String(repeating: "a\(index)", count: 2000), modified: time(Int64(index)))
                try TemporaryTree.write(b, "r\(round)/b\(index).bin", String(repeating: "b\(index)", count: 2000), modified: time(Int64(index)))
            }
            let run = try HASyncProcess(arguments(["--workers", "2"]))
            try await Task.sleep(for: .milliseconds(delay))
            run.signal(SIGKILL)
            _ = try await run.wait()
            // Whatever is under a final name is a complete version from the other side.
            for side in [a, b] {
                for index in 0..<300 {
                    for prefix in ["a", "b"] {
                        if let content = text(side, "r\(round)/\(prefix)\(index).bin") {
                            #expect(content == String(repeating: "\(prefix)\(index)", count: 2000))
                        }
                    }
                }
            }
            let next = try await sync()
            #expect(next.summary?["conflicts"] as? Int == 0, "round \(round): \(next.stdout)")
            #expect(conflictCopies(a).isEmpty)
            try expectSidesEqual("round \(round)")
            #expect(temporaryFiles(in: a + "/r\(round)").isEmpty && temporaryFiles(in: b + "/r\(round)").isEmpty)
            let after = try await sync()
            #expect(after.summary?["created"] as? Int == 0 && after.summary?["updated"] as? Int == 0, "round \(round)")
        }
    }

    @Test func aSecondRunWhileTheFirstIsFrozenExitsAndChangesNothing() async throws {
        try TemporaryTree.write(a, "seed.txt", "s", modified: t0)
        try await sync()
        try writeSparseFile(a + "/big.bin", size: 1 << 30)
        try TemporaryTree.write(b, "hp-only.txt", "h", modified: t0)
        let first = try HASyncProcess(arguments(["--verify"]))
        #expect(try await waitUntil { !temporaryFiles(in: b).isEmpty })
        first.signal(SIGSTOP)
        // A system call in flight when the signal came still completes: let it.
        try await Task.sleep(for: .milliseconds(300))
        let temporary: (RelativePath) -> Bool = { TemporaryName.matches($0.lastComponent) }
        let before = (try TreeSnapshot(a, ignoring: temporary), try TreeSnapshot(b, ignoring: temporary))
        let started = Date()
        let second = try await HASyncProcess.run(arguments())
        #expect(second.status == 0)
        #expect(Date().timeIntervalSince(started) < 20)
        #expect(second.stderr.contains("locked"))
        let after = (try TreeSnapshot(a, ignoring: temporary), try TreeSnapshot(b, ignoring: temporary))
        #expect(after.0 == before.0, "\(after.0.differences(from: before.0))")
        #expect(after.1 == before.1, "\(after.1.differences(from: before.1))")
        first.signal(SIGCONT)
        let outcome = try await first.wait()
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(text(a, "hp-only.txt") == "h")
    }

    @Test func anUnreadableFolderDeletesNothingBelowItOnTheOtherSide() async throws {
        for index in 0..<3 { try TemporaryTree.write(a, "private/p\(index).txt", "\(index)", modified: t0) }
        try TemporaryTree.write(a, "public.txt", "p", modified: t0)
        try await sync()
        chmod(a + "/private", 0)
        defer { chmod(a + "/private", 0o755) }
        let prefix = geteuid() == 0 ? ["/usr/bin/setpriv", "--bounding-set=-dac_override,-dac_read_search"] : []
        let outcome = try await sync(expect: 2, prefix: prefix)
        #expect(outcome.stderr.contains("private"))
        for index in 0..<3 { #expect(text(b, "private/p\(index).txt") == "\(index)") }
    }

    @Test func theMaxDeleteRefusalIsNotSticky() async throws {
        for index in 0..<10 { try TemporaryTree.write(a, "f\(index).txt", "\(index)", modified: t0) }
        try await sync()
        let saved = try TreeSnapshot(b)
        for index in 0..<6 { unlink(a + "/f\(index).txt") }
        let refused = try await sync(expect: 3)
        #expect(refused.stderr.contains("refusing to delete"))
        #expect(try TreeSnapshot(b) == saved)
        // The files come back (the export is remounted): the next run proceeds on its own.
        for index in 0..<6 { try TemporaryTree.write(a, "f\(index).txt", "\(index)", modified: t0) }
        let fine = try await sync()
        #expect(fine.summary?["deleted"] as? Int == 0)
    }

    @Test func anEmptyOrMissingSideIsRefused() async throws {
        for index in 0..<4 { try TemporaryTree.write(a, "f\(index).txt", "\(index)", modified: t0) }
        try await sync()
        for index in 0..<4 { unlink(b + "/f\(index).txt") }
        let refused = try await sync(expect: 3)
        #expect(refused.stderr.contains("is empty"))
        #expect(FileManager.default.fileExists(atPath: a + "/f0.txt"))
        rmdir(b)
        let missing = try await sync(expect: 3)
        #expect(missing.stderr.contains("does not exist (is it mounted?)"))
        #expect(FileManager.default.fileExists(atPath: a + "/f0.txt"))
    }

    @Test func aCorruptArchiveMeansAFirstRunThatDeletesNothing() async throws {
        for index in 0..<4 { try TemporaryTree.write(a, "f\(index).txt", "\(index)", modified: t0) }
        try await sync()
        unlink(a + "/f0.txt")
        try Data("this is not an SQLite database, not at all".utf8).write(to: URL(fileURLWithPath: logs + "/state/photos.db"))
        let outcome = try await sync()
        #expect(outcome.stderr.contains("first run"))
        #expect(text(a, "f0.txt") == "0")  // the union: nothing deleted, the file comes back
        #expect(try TreeSnapshot(a, ignoring: Self.notVersions) == TreeSnapshot(b, ignoring: Self.notVersions))
    }

    @Test func aFileSavedDuringTheRunIsNeverOverwritten() async throws {
        try writeSparseFile(a + "/video.bin", size: 16 << 20)
        try await sync()
        // A new version on dell, large enough that its copy to hp takes a while...
        try writeSparseFile(a + "/video.bin", size: 2 << 30)
        let run = try HASyncProcess(arguments(["--verify"]))
        #expect(try await waitUntil { !temporaryFiles(in: b).isEmpty })
        // ...while someone saves the file on hp.
        try TemporaryTree.write(b, "video.bin", "saved on hp during the run", modified: time(900))
        let outcome = try await run.wait()
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(text(b, "video.bin") == "saved on hp during the run")
        // The next run sees two changed versions: both are kept.
        let next = try await sync()
        #expect(next.summary?["conflicts"] as? Int == 1)
        #expect(conflictCopies(b).count == 1)
    }

    /// Inode numbers by path: a dry run must not even rewrite a file in place.
    func inodes(_ root: String) -> [String: UInt64] {
        var result: [String: UInt64] = [:]
        for path in (FileManager.default.enumerator(atPath: root)?.allObjects as? [String]) ?? [] {
            var info = stat()
            if lstat(root + "/" + path, &info) == 0 { result[path] = UInt64(info.st_ino) }
        }
        return result
    }
}
