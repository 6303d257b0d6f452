import Foundation
import SyncTestSupport
import Synchronization

/// Runs the built `ha-sync` binary as a subprocess, output captured in files (no pipe can fill up).
struct HASyncProcess {
    struct Outcome {
        var status: Int32
        var stdout: String
        var stderr: String
        var terminatedBySignal: Bool
        /// When the process ended, as seen by Foundation's own thread (not when the test got
        /// round to noticing, which on a busy task pool can be seconds later).
        var exitedAt: Date
    }

    /// The binary next to the test bundle, or `$HA_SYNC_BINARY`.
    static let binary: String = {
        if let path = ProcessInfo.processInfo.environment["HA_SYNC_BINARY"] { return path }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("ha-sync").path
    }()

    let process = Process()
    private let exit = ExitTime()
    let stdoutURL: URL
    let stderrURL: URL

    /// Starts `ha-sync` with `arguments`, optionally through `prefix` (for example setpriv).
    init(_ arguments: [String], prefix: [String] = [], environment: [String: String] = [:]) throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ha-sync-out-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        stdoutURL = scratch.appendingPathComponent("stdout")
        stderrURL = scratch.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        if prefix.isEmpty {
            process.executableURL = URL(fileURLWithPath: Self.binary)
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: prefix[0])
            process.arguments = Array(prefix.dropFirst()) + [Self.binary] + arguments
        }
        var env = ProcessInfo.processInfo.environment
        env["HA_SYNC_DB_DSN"] = nil
        for (key, value) in environment { env[key] = value }
        process.environment = env
        process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        process.standardError = try FileHandle(forWritingTo: stderrURL)
        process.standardInput = DevNull.reading()
        let exit = self.exit
        process.terminationHandler = { _ in exit.record() }
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }

    func signal(_ number: Int32) {
        kill(process.processIdentifier, number)
    }

    /// Waits for the process to end (killing it after `timeout` seconds) and returns its output.
    func wait(timeout: Double = 120) async throws -> Outcome {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() > deadline {
                process.terminate()
                kill(process.processIdentifier, SIGKILL)
                break
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        process.waitUntilExit()
        let stdout = (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(at: stdoutURL.deletingLastPathComponent())
        return Outcome(
            status: process.terminationStatus, stdout: stdout, stderr: stderr,
            terminatedBySignal: process.terminationReason == .uncaughtSignal, exitedAt: exit.recorded ?? Date())
    }

    /// Runs to completion.
    static func run(_ arguments: [String], prefix: [String] = [], environment: [String: String] = [:], timeout: Double = 120) async throws -> Outcome
    {
        try await HASyncProcess(arguments, prefix: prefix, environment: environment).wait(timeout: timeout)
    }
}

/// The moment a process ended, recorded by its termination handler.
private final class ExitTime: Sendable {
    private let moment = Mutex<Date?>(nil)

    func record() { moment.withLock { $0 = Date() } }
    var recorded: Date? { moment.withLock { $0 } }
}

extension HASyncProcess.Outcome {
    /// The `--output json` lines of stdout, decoded.
    var jsonLines: [[String: Any]] {
        stdout.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }
    }

    var summary: [String: Any]? { jsonLines.last { $0["type"] as? String == "summary" } }
}

/// Names of the engine's temporary files in `directory`.
/// Freezes `run` with SIGSTOP the moment a temporary file shows up in `directory`, watching
/// from an OS thread of its own: a poll on the test's task pool can miss a short copy while the
/// pool is busy with other tests. Returns whether it froze the run.
func freezeWhenTemporaryFileAppears(_ run: HASyncProcess, in directory: String, minimumSize: Int = 0, timeout: Double = 60) async -> Bool {
    let pid = run.process.processIdentifier
    return await withCheckedContinuation { continuation in
        Thread.detachNewThread {
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                let grown = temporaryFiles(in: directory).contains { name in
                    ((try? FileManager.default.attributesOfItem(atPath: directory + "/" + name)[.size] as? Int) ?? 0) >= minimumSize
                }
                if grown {
                    kill(pid, SIGSTOP)
                    continuation.resume(returning: true)
                    return
                }
                usleep(200)
            }
            continuation.resume(returning: false)
        }
    }
}

func temporaryFiles(in directory: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasPrefix(".ha-sync-tmp.") }
}

/// A file of `size` bytes with a pattern that differs per `seed` (written sparse-free, so copies do real work).
func writeLargeFile(_ path: String, size: Int, seed: UInt8) throws {
    let chunk = [UInt8]((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) })
    _ = FileManager.default.createFile(atPath: path, contents: nil)
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    for _ in 0..<(size >> 20) { try handle.write(contentsOf: chunk) }
}

/// A sparse file of `size` bytes: instant to make, yet a copy with `--verify` reads and hashes
/// every byte, so runs over it last long enough to be interrupted reliably on a loaded machine.
func writeSparseFile(_ path: String, size: Int) throws {
    _ = FileManager.default.createFile(atPath: path, contents: nil)
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    try handle.truncate(atOffset: UInt64(size))
    try handle.close()
}
