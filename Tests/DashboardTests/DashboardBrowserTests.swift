import Foundation
import SyncTestSupport
import Testing

/// The real `ha-sync-ui` binary on a seeded store, looked at by headless Chromium
/// (Tests/Browser/dashboard_check.py drives it over the DevTools protocol).
@Suite("Dashboard in a real browser", .serialized)
struct DashboardBrowserTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A log file for a child process, read back when a test fails.
    static func logFile(_ name: String) throws -> (handle: FileHandle, read: () -> String) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString).log").path
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        return (handle, { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" })
    }

    /// Runs Tests/Browser/dashboard_check.py with `arguments`; returns its exit status and output.
    static func browserCheck(_ arguments: [String]) async throws -> (status: Int32, log: String) {
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        check.arguments = ["python3", repository.appendingPathComponent("Tests/Browser/dashboard_check.py").path] + arguments
        let output = try logFile("browser")
        check.standardOutput = output.handle
        check.standardError = output.handle
        try check.run()
        while check.isRunning { try await Task.sleep(for: .milliseconds(100)) }
        try output.handle.close()
        return (check.terminationStatus, output.read())
    }

    static var binary: String {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("ha-sync-ui").path
    }

    @Test(.timeLimit(.minutes(3)))
    func theDashboardShowsPairsRunsAndOperationsSafely() async throws {
        let (database, failed) = try await DashboardSeed.make()
        let port = try LoopbackPort.free()
        let server = Process()
        server.executableURL = URL(fileURLWithPath: Self.binary)
        server.arguments = [
            "--host", "127.0.0.1", "--port", "\(port)", "--db-dsn", "sqlite://\(database)", "--stale-after", "1d", "--refresh-seconds", "10",
        ]
        let serverLog = try Self.logFile("ui")
        server.standardOutput = serverLog.handle
        server.standardError = serverLog.handle
        try server.run()
        defer {
            server.terminate()
            server.waitUntilExit()
        }
        let base = "http://127.0.0.1:\(port)"
        var ready = false
        for _ in 0..<100 where !ready {
            ready = LoopbackHTTP.get(port: port, path: "/healthz")?.status == 200
            if !ready { try await Task.sleep(for: .milliseconds(100)) }
        }
        try #require(ready, "ha-sync-ui answered /healthz")

        let screenshot = Self.repository.appendingPathComponent("artifacts/dashboard.png").path
        let (status, log) = try await Self.browserCheck([
            "--url", base, "--db", database, "--failed-iteration", "\(failed)", "--hostile-name", DashboardSeed.hostileName,
            "--refresh-seconds", "10", "--screenshot", screenshot,
        ])
        #expect(status == 0, "\(log)\nha-sync-ui (running: \(server.isRunning)): \(serverLog.read())")
        #expect(log.contains(" 0 failed"), "\(log)")
        #expect(!log.contains("FAIL "), "\(log)")
        #expect(FileManager.default.fileExists(atPath: screenshot))
    }

    /// The real `ha-sync` copies three large files (slowly: `--verify`, one at a time) while
    /// the page is open with a poll far longer than the test: the running card appears and its
    /// progress advances, pushed over server-sent events.
    @Test(.timeLimit(.minutes(3)))
    func aRealRunsProgressIsPushedToThePage() async throws {
        let scratch = try TemporaryTree("live-ui")
        let source = try scratch.directory("src")
        let destination = try scratch.directory("dest")
        let logs = try scratch.directory("logs")
        let database = logs + "/audit.db"
        let sync = URL(fileURLWithPath: Self.binary).deletingLastPathComponent().appendingPathComponent("ha-sync").path
        func arguments(_ source: String, _ destination: String) -> [String] {
            [
                "--src", source, "--dest", destination, "--pair", "live", "--log-dir", logs, "--db-dsn", "sqlite://\(database)", "--verify",
                "--workers", "1",
            ]
        }
        // A first run creates the store the dashboard opens read-only.
        let first = Process()
        first.executableURL = URL(fileURLWithPath: sync)
        first.arguments = arguments(try scratch.directory("empty-src"), try scratch.directory("empty-dest"))
        first.standardOutput = DevNull.writing()
        first.standardError = DevNull.writing()
        try first.run()
        await OffThePool.waitForExit(first)
        try #require(first.terminationStatus == 0)
        // Sparse sources; each copy (verified, so read, written and read back) takes a second or two.
        for index in 0..<10 {
            let path = source + "/image-\(index).bin"
            #expect(FileManager.default.createFile(atPath: path, contents: nil))
            #expect(truncate(path, 256 << 20) == 0)
        }

        let port = try LoopbackPort.free()
        let server = Process()
        server.executableURL = URL(fileURLWithPath: Self.binary)
        server.arguments = ["--host", "127.0.0.1", "--port", "\(port)", "--db-dsn", "sqlite://\(database)", "--refresh-seconds", "600"]
        let serverLog = try Self.logFile("ui-live")
        server.standardOutput = serverLog.handle
        server.standardError = serverLog.handle
        try server.run()
        // At the lowest priority: its verified copies are CPU work, and the tests that run
        // beside it (Lease heartbeats) must not starve.
        let run = Process()
        run.executableURL = URL(fileURLWithPath: "/usr/bin/nice")
        run.arguments = ["-n", "19", sync] + arguments(source, destination)
        let runLog = logs + "/run.log"
        _ = FileManager.default.createFile(atPath: runLog, contents: nil)
        let runHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: runLog))
        run.standardOutput = runHandle
        run.standardError = runHandle
        defer {
            for process in [server, run] where process.isRunning {
                process.terminate()
                process.waitUntilExit()
            }
        }
        var ready = false
        for _ in 0..<100 where !ready {
            ready = LoopbackHTTP.get(port: port, path: "/healthz")?.status == 200
            if !ready { try await Task.sleep(for: .milliseconds(100)) }
        }
        try #require(ready, "ha-sync-ui answered /healthz")
        try run.run()

        let (status, log) = try await Self.browserCheck(["--url", "http://127.0.0.1:\(port)", "--db", database, "--live-pair", "live"])
        let runOutput = (try? String(contentsOfFile: runLog, encoding: .utf8)) ?? ""
        #expect(
            status == 0, "\(log)\nha-sync: \(runOutput)\nha-sync-ui (running: \(server.isRunning)): \(serverLog.read())")
        #expect(log.contains(" 0 failed"), "\(log)")
        #expect(run.isRunning, "the sync was still copying when its progress was seen to advance")
    }
}
