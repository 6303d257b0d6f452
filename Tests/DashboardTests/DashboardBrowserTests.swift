import Foundation
import SyncTestSupport
import Testing

/// The real `ha-sync-ui` binary on a seeded store, looked at by headless Chromium
/// (Tests/Browser/dashboard_check.py drives it over the DevTools protocol).
@Suite("Dashboard in a real browser", .serialized)
struct DashboardBrowserTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

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
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
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
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        check.arguments = [
            "python3", Self.repository.appendingPathComponent("Tests/Browser/dashboard_check.py").path,
            "--url", base, "--db", database, "--failed-iteration", "\(failed)", "--hostile-name", DashboardSeed.hostileName,
            "--refresh-seconds", "10", "--screenshot", screenshot,
        ]
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("browser-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let handle = try FileHandle(forWritingTo: output)
        check.standardOutput = handle
        check.standardError = handle
        try check.run()
        while check.isRunning { try await Task.sleep(for: .milliseconds(100)) }
        try handle.close()
        let log = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        #expect(check.terminationStatus == 0, "\(log)")
        #expect(log.contains(" 0 failed"), "\(log)")
        #expect(!log.contains("FAIL "), "\(log)")
        #expect(FileManager.default.fileExists(atPath: screenshot))
    }
}
