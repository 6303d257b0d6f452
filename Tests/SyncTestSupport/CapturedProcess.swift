public import Foundation

/// Runs a short command to completion and captures its output (stdout and stderr together,
/// through a file, so a chatty command can never fill a pipe and hang).
public enum CapturedProcess {
    /// Waits on an OS thread of its own: the test process's task pool has one thread per core,
    /// and a command blocking one (mariadb-install-db, a generator, a browser) starves every
    /// test beside it, including the fake API servers that answer the binaries under test.
    public static func run(_ executable: String, _ arguments: [String], in directory: URL? = nil) async throws -> (
        status: Int32, output: String
    ) {
        try await OffThePool.run { try runBlocking(executable, arguments, in: directory) }
    }

    /// The same, blocking the calling thread: only where awaiting is impossible (a `defer`).
    public static func runBlocking(_ executable: String, _ arguments: [String], in directory: URL? = nil) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("captured-\(UUID().uuidString).out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: output) }
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        process.waitUntilExit()
        try handle.close()
        return (process.terminationStatus, (try? String(contentsOf: output, encoding: .utf8)) ?? "")
    }

    /// A command left running in the background, its output going to a file.
    public final class Running: @unchecked Sendable {
        let process: Process
        let output: URL

        init(process: Process, output: URL) {
            self.process = process
            self.output = output
        }

        /// Waits for the command to end (killing it after `timeout` seconds) and returns its output.
        public func finish(timeout: Double = 60) async throws -> String {
            let deadline = Date().addingTimeInterval(timeout)
            while process.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
            if process.isRunning { process.terminate() }
            await OffThePool.waitForExit(process)
            defer { try? FileManager.default.removeItem(at: output) }
            return (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        }
    }

    /// Starts a command in the background; ``Running/finish(timeout:)`` collects its output.
    public static func start(_ executable: String, _ arguments: [String]) throws -> Running {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("captured-\(UUID().uuidString).out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        try handle.close()
        return Running(process: process, output: output)
    }
}
