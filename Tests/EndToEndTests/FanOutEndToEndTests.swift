import Foundation
import SyncCore
import SyncTestSupport
import Testing

/// Fan-out with the real binary: one source, several destinations, each at its own pace;
/// ordered publication (`--publish-after`, `--delay-updates`) observed from outside while the
/// run works, and after a `kill -9`.
@Suite("ha-sync fan-out", .serialized)
struct FanOutEndToEndTests {
    let tree: TemporaryTree
    let source: String
    let logs: String
    let t0 = Timestamp(seconds: 1_790_000_000)

    init() throws {
        tree = try TemporaryTree("fan-out")
        source = try tree.directory("main")
        logs = tree.root + "/logs"
    }

    func destination(_ name: String) throws -> String { try tree.directory(name) }

    func arguments(_ destinations: [String], _ extra: [String] = []) -> [String] {
        ["--src", source, "--pair", "netboot", "--log-dir", logs] + destinations.flatMap { ["--dest", $0] } + extra
    }

    func files(_ root: String) throws -> [String: Data] {
        var result: [String: Data] = [:]
        let enumerator = FileManager.default.enumerator(atPath: root)
        while let path = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: root + "/" + path, isDirectory: &isDirectory), !isDirectory.boolValue,
                !path.contains(".ha-sync")
            {
                result[path] = FileManager.default.contents(atPath: root + "/" + path)
            }
        }
        return result
    }

    func temporaryFiles(_ root: String) -> Int {
        var count = 0
        let enumerator = FileManager.default.enumerator(atPath: root)
        while let path = enumerator?.nextObject() as? String {
            if (path as NSString).lastPathComponent.hasPrefix(".ha-sync-tmp.") { count += 1 }
        }
        return count
    }

    func auditRows() async throws -> [String] {
        let query =
            "import sqlite3\nfor r in sqlite3.connect('\(logs)/ha-sync.db').execute('SELECT direction, dest, status, fan_out_id, run_id FROM sync_iterations ORDER BY direction'): print('|'.join(map(str, r)))"
        return try await CapturedProcess.run("/usr/bin/python3", ["-c", query]).output.split(separator: "\n").map(String.init)
    }

    @Test func aStalledDestinationHoldsNoneOfTheOthersBack() async throws {
        for index in 0..<300 {
            try TemporaryTree.write(source, RelativePath("pkgs/d\(index % 10)/p\(index)"), Array("package \(index)".utf8), modified: t0)
        }
        try writeSparseFile(source + "/big.squashfs", size: 256 << 20)
        try TemporaryTree.setModified(source, RelativePath("big.squashfs"), t0)
        let fast = [try destination("cache-1"), try destination("cache-2")]
        let slowRoot = try destination("cache-far")
        let server = try await ServeProcess(directory: try tree.directory("server"), roots: ["far=\(slowRoot)"])
        try await server.start()
        defer { Task { await server.stop() } }

        // The time of a run with one destination, for scale.
        let single = try destination("single")
        let started = Date()
        let alone = try await HASyncProcess.run(arguments([single]))
        let singleSeconds = Date().timeIntervalSince(started)
        #expect(alone.status == 0, "\(alone.stderr)")

        let fanStarted = Date()
        let run = try HASyncProcess(arguments(fast + [server.url("far")], server.clientArguments))
        // Freeze the far server (from a thread of its own, at once) while the large file is on its way to it.
        #expect(await freezeWhenTemporaryFileAppears(try #require(server.process), in: slowRoot, minimumSize: 1 << 20))
        #expect(run.process.isRunning, "the far destination had started receiving")
        // The two near caches finish while the far one cannot move.
        let nearDone = try await waitUntil(timeout: 60) {
            let out = (try? String(contentsOf: run.stdoutURL, encoding: .utf8)) ?? ""
            return fast.allSatisfy { out.contains("to \($0): success") }
        }
        let nearSeconds = Date().timeIntervalSince(fanStarted)
        #expect(nearDone, "both near destinations reported success while the far one was stalled")
        #expect(run.process.isRunning, "the far destination was still at work")
        for root in fast { #expect(try files(root) == files(source)) }
        // Near destinations took about as long as one destination alone (not the far one's time).
        #expect(nearSeconds < max(4 * singleSeconds, singleSeconds + 5), "near: \(nearSeconds) s, alone: \(singleSeconds) s")

        server.signal(SIGCONT)
        let outcome = try await run.wait()
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(try files(slowRoot) == files(source))
        #expect(outcome.stdout.contains("fan-out netboot: 3 destinations"))
        #expect(outcome.stderr.contains("source_folders_read=12"), "each of the 12 source folders read once for all three: \(outcome.stderr)")

        // One iteration per destination, sharing the run's id.
        let rows = try await auditRows().filter { $0.hasPrefix("fwd.") }
        #expect(rows.count == 3, "\(rows)")
        let fanOutIDs = Set(rows.map { $0.split(separator: "|")[3] })
        #expect(fanOutIDs.count == 1 && fanOutIDs.first != "None")
        #expect(Set(rows.map { $0.split(separator: "|")[4] }).count == 3, "each row has a run id of its own")
        #expect(rows.allSatisfy { $0.split(separator: "|")[2] == "success" })
    }

    @Test func aDestinationThatCannotBeWrittenFailsAlone() async throws {
        for index in 0..<50 { try TemporaryTree.write(source, RelativePath("f\(index)"), Array("\(index)".utf8), modified: t0) }
        let good = try destination("good")
        let readOnly = try destination("read-only")
        chmod(readOnly, 0o555)
        defer { chmod(readOnly, 0o755) }
        let missing = tree.root + "/not-mounted"
        let prefix = geteuid() == 0 ? ["/usr/bin/setpriv", "--bounding-set=-dac_override,-dac_read_search"] : []
        let outcome = try await HASyncProcess.run(arguments([good, readOnly, missing]), prefix: prefix)
        #expect(outcome.status == 1, "the worst destination's status: \(outcome.stdout) \(outcome.stderr)")
        #expect(try files(good) == files(source), "the writable destination is complete")
        #expect(outcome.stdout.contains("\(good): ok"))
        #expect(outcome.stdout.contains("\(readOnly): partialFailure (exit 2)"), "\(outcome.stdout)")
        #expect(outcome.stdout.contains("\(missing): failed (exit 1): destination directory \(missing) does not exist"), "\(outcome.stdout)")
        let rows = try await auditRows()
        #expect(rows.count == 3, "\(rows)")
    }

    /// Netboot images: each `.json` announces the `.squashfs` of the same name, with its size and digest.
    func writeImages(_ names: [String], size: Int) async throws {
        try FileManager.default.createDirectory(atPath: source + "/images", withIntermediateDirectories: true)
        for (index, name) in names.enumerated() {
            try writeLargeFile(source + "/images/\(name).squashfs", size: size, seed: UInt8(truncatingIfNeeded: index + names.count))
            try TemporaryTree.setModified(source, RelativePath("images/\(name).squashfs"), t0)
            let digest = try await CapturedProcess.run("/usr/bin/sha256sum", [source + "/images/\(name).squashfs"]).output.prefix(64)
            try TemporaryTree.write(
                source, RelativePath("images/\(name).json"), Array("{\"size\": \(size), \"sha256\": \"\(digest)\"}".utf8), modified: t0)
        }
    }

    /// A watcher that polls every destination and records any announcement whose image is
    /// missing, short or different; it prints `checks=N seen=N violations=N` and the violations.
    func startWatcher(_ roots: [String], until stopFile: String) throws -> CapturedProcess.Running {
        let script = """
            import hashlib, json, os, sys, time
            roots, stop = sys.argv[1:-1], sys.argv[-1]
            checks = seen = 0
            violations = []
            cache = {}
            def digest(path, st):
                key = (path, st.st_ino, st.st_size, st.st_mtime_ns)
                if key not in cache:
                    with open(path, 'rb') as f: cache[key] = hashlib.sha256(f.read()).hexdigest()
                return cache[key]
            while True:
                last = os.path.exists(stop)
                for root in roots:
                    folder = os.path.join(root, 'images')
                    try: names = os.listdir(folder)
                    except FileNotFoundError: continue
                    for name in names:
                        if not name.endswith('.json'): continue
                        try:
                            with open(os.path.join(folder, name)) as f: announced = json.load(f)
                        except (FileNotFoundError, ValueError): continue
                        seen += 1
                        image = os.path.join(folder, name[:-5] + '.squashfs')
                        try:
                            st = os.stat(image)
                            ok = st.st_size == announced['size'] and digest(image, st) == announced['sha256']
                        except FileNotFoundError:
                            ok = False
                        if not ok: violations.append(image)
                checks += 1
                if last: break
                time.sleep(0.002)  # a few hundred looks a second, without taking a core from the run
            print(f'checks={checks} seen={seen} violations={len(violations)}')
            for v in violations[:10]: print(v)
            """
        return try CapturedProcess.start("/usr/bin/python3", ["-c", script] + roots + [stopFile])
    }

    @Test func noDestinationEverShowsAnAnnouncementBeforeItsImage() async throws {
        try await writeImages((0..<8).map { "ubuntu-\($0)" }, size: 6 << 20)
        let roots = [try destination("site-a"), try destination("site-b"), try destination("site-c")]
        let stopFile = tree.root + "/watcher-stop"
        let watcher = try startWatcher(roots, until: stopFile)
        let outcome = try await HASyncProcess.run(arguments(roots, ["--publish-after", "*.json=${stem}.squashfs", "--verify"]))
        #expect(outcome.status == 0, "\(outcome.stderr)")
        _ = FileManager.default.createFile(atPath: stopFile, contents: nil)
        let report = try await watcher.finish()
        #expect(report.contains("violations=0"), "\(report)")
        let seen = Int(report.split(separator: " ").first { $0.hasPrefix("seen=") }?.dropFirst(5) ?? "0") ?? 0
        #expect(seen >= 24, "the watcher saw every announcement at the end: \(report)")
        for root in roots { #expect(try files(root) == files(source)) }

        // A new image set, and the run killed mid-way: still no announcement without its image.
        try await writeImages((0..<8).map { "debian-\($0)" }, size: 6 << 20)
        try? FileManager.default.removeItem(atPath: stopFile)
        let second = try startWatcher(roots, until: stopFile)
        let run = try HASyncProcess(arguments(roots, ["--publish-after", "*.json=${stem}.squashfs", "--verify", "--workers", "2"]))
        let copying = try await waitUntil(timeout: 60) {
            roots.contains { FileManager.default.fileExists(atPath: $0 + "/images/debian-2.squashfs") } || !run.process.isRunning
        }
        run.signal(SIGKILL)
        _ = try await run.wait()
        #expect(copying)
        _ = FileManager.default.createFile(atPath: stopFile, contents: nil)
        let afterKill = try await second.finish()
        #expect(afterKill.contains("violations=0"), "\(afterKill)")
        // The next run completes every destination.
        let third = try await HASyncProcess.run(arguments(roots, ["--publish-after", "*.json=${stem}.squashfs"]))
        #expect(third.status == 0, "\(third.stderr)")
        for root in roots { #expect(try files(root) == files(source)) }
    }

    /// Freezes the run (SIGSTOP) while its big last file is being copied and looks at the
    /// destination: returns how many of the small files show their new content then.
    func newFilesWhileTheLastCopyRuns(delayUpdates: Bool) async throws -> (newAtFreeze: Int, total: Int) {
        let root = try destination(delayUpdates ? "delayed" : "immediate")
        for index in 0..<20 {
            try TemporaryTree.write(root, RelativePath("a-\(index)"), Array("old".utf8), modified: t0)
            try TemporaryTree.write(source, RelativePath("a-\(index)"), Array("new".utf8), modified: Timestamp(seconds: t0.seconds + 60))
        }
        try TemporaryTree.write(root, RelativePath("z-big"), Array("old".utf8), modified: t0)
        // Sparse: instant to make, yet with --verify its copy reads and hashes every byte.
        try writeSparseFile(source + "/z-big", size: 512 << 20)
        try TemporaryTree.setModified(source, RelativePath("z-big"), Timestamp(seconds: t0.seconds + 60))
        let run = try HASyncProcess(arguments([root], ["--workers", "1", "--verify"] + (delayUpdates ? ["--delay-updates"] : [])))
        // Frozen (by a thread of its own, at once) when the big file's temporary copy shows up.
        #expect(await freezeWhenTemporaryFileAppears(run, in: root, minimumSize: 1 << 20))
        let newAtFreeze = (0..<20).filter { (try? String(contentsOfFile: root + "/a-\($0)", encoding: .utf8)) == "new" }.count
        let bigIsOld = (try? String(contentsOfFile: root + "/z-big", encoding: .utf8)) == "old"
        #expect(bigIsOld)
        run.signal(SIGCONT)
        let outcome = try await run.wait()
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect((0..<20).allSatisfy { (try? String(contentsOfFile: root + "/a-\($0)", encoding: .utf8)) == "new" })
        #expect((try? FileManager.default.attributesOfItem(atPath: root + "/z-big")[.size] as? Int) == 512 << 20)
        return (newAtFreeze, 20)
    }

    @Test func delayedUpdatesShowTheOldTreeUntilEveryFileIsReady() async throws {
        let immediate = try await newFilesWhileTheLastCopyRuns(delayUpdates: false)
        #expect(immediate.newAtFreeze == immediate.total, "without --delay-updates the small files are new while the big one is old: mixed")
        let delayed = try await newFilesWhileTheLastCopyRuns(delayUpdates: true)
        #expect(delayed.newAtFreeze == 0, "with --delay-updates nothing is new until everything is")
    }

    @Test func aFileStillBeingWrittenIsSkippedAndPickedUpLater() async throws {
        try TemporaryTree.write(source, RelativePath("done.iso"), Array("complete".utf8), modified: t0)
        // Written just now: an upload in progress, as far as --min-age can tell.
        try TemporaryTree.write(source, RelativePath("uploading.iso"), Array("half".utf8), modified: nil)
        let roots = [try destination("one"), try destination("two")]
        let first = try await HASyncProcess.run(arguments(roots, ["--min-age", "10m"]))
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("left for a later run: 1"), "\(first.stdout)")
        for root in roots {
            #expect(FileManager.default.fileExists(atPath: root + "/done.iso"))
            #expect(!FileManager.default.fileExists(atPath: root + "/uploading.iso"))
        }
        // The upload finished long enough ago.
        try TemporaryTree.setModified(source, RelativePath("uploading.iso"), t0)
        let second = try await HASyncProcess.run(arguments(roots, ["--min-age", "10m"]))
        #expect(second.status == 0)
        for root in roots { #expect(try files(root) == files(source)) }
    }

    @Test func fanOutOptionsAreCheckedUpFront() async throws {
        let one = try destination("x")
        let cases: [([String], String)] = [
            (arguments([one, one]), "is given twice"),
            (arguments([one, one + "/inner"]), "overlap"),
            (arguments([one, try destination("y")], ["--bidirectional"]), "--bidirectional syncs one pair"),
            (arguments([one], ["--publish-after", "*.json"]), "PATTERN=DEPENDENCY"),
            (arguments([one], ["--min-age", "soon"]), "--min-age takes a duration"),
            (arguments([one], ["--delay-updates", "--bidirectional"]), "one-way runs only"),
        ]
        for (arguments, message) in cases {
            let outcome = try await HASyncProcess.run(arguments)
            #expect(outcome.status == 64, "\(arguments)")
            #expect(outcome.stderr.contains(message), "\(outcome.stderr)")
        }
    }
}
