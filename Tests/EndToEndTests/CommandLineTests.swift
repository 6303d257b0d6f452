import Foundation
import SyncTestSupport
import Testing

@Suite("ha-sync command line")
struct CommandLineTests {
    let tree: TemporaryTree
    let source: String
    let destination: String
    let logs: String

    init() throws {
        tree = try TemporaryTree("cli")
        source = try tree.directory("src")
        destination = try tree.directory("dest")
        logs = tree.root + "/logs"
    }

    @Test func helpMatchesTheSavedCopy() async throws {
        let outcome = try await HASyncProcess.run(["--help"], environment: ["COLUMNS": "120"])
        #expect(outcome.status == 0)
        let savedPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Resources/help.txt").path
        if ProcessInfo.processInfo.environment["HA_SYNC_UPDATE_HELP"] == "1" {
            try outcome.stdout.write(toFile: savedPath, atomically: true, encoding: .utf8)
        }
        let saved = try String(contentsOfFile: savedPath, encoding: .utf8)
        #expect(outcome.stdout == saved, "run with HA_SYNC_UPDATE_HELP=1 to accept a deliberate change")
        for flag in [
            "--src", "--dest", "--pair", "--direction", "--db-dsn", "--lock-ttl", "--log-dir", "--log-retain-days", "--mtime-threshold",
            "--delete-missing", "--max-delete", "--workers", "--dry-run", "--verify", "--verbose", "--output", "--log-format", "--help",
            "--bidirectional", "--archive", "--side-names",
        ] {
            #expect(outcome.stdout.contains(flag), "\(flag) is documented")
        }
    }

    /// Invalid command lines: each one exits with the usage status and a one-line reason.
    @Test(arguments: [
        (["--workers", "0"], "--workers must be between 1 and 256"),
        (["--mtime-threshold=-1"], "--mtime-threshold must be zero or more"),
        (["--max-delete", "101"], "--max-delete must be a percentage"),
        (["--lock-ttl", "0"], "--lock-ttl must be at least"),
        (["--log-retain-days", "0"], "--log-retain-days must be at least 1"),
        (["--pair", "Media!"], "--pair 'Media!' must be"),
        (["--direction", "a b"], "--direction 'a b' must be"),
    ])
    func invalidValuesAreUsageErrors(arguments: [String], message: String) async throws {
        var base = ["--src", source, "--dest", destination, "--pair", "p", "--log-dir", logs]
        let flag = String(arguments[0].split(separator: "=")[0])
        if let index = base.firstIndex(of: flag) { base.removeSubrange(index...(index + 1)) }
        let outcome = try await HASyncProcess.run(base + arguments)
        #expect(outcome.status == 64)
        let errorLine = outcome.stderr.split(separator: "\n").first.map(String.init) ?? ""
        #expect(errorLine.hasPrefix("Error: "))
        #expect(errorLine.contains(message), "\(errorLine)")
    }

    @Test func overlappingOrRelativePathsAreUsageErrors() async throws {
        let nested = try tree.directory("src/inner")
        let alias = tree.root + "/alias"
        try FileManager.default.createSymbolicLink(atPath: alias, withDestinationPath: source)
        let cases: [([String], String)] = [
            (["--src", source, "--dest", source], "are the same directory"),
            (["--src", source, "--dest", source + "/./"], "are the same directory"),
            (["--src", source, "--dest", nested], "is inside --src"),
            (["--src", nested, "--dest", source], "is inside --dest"),
            (["--src", alias, "--dest", source], "are the same directory"),
            (["--src", "relative/dir", "--dest", destination], "--src must be an absolute path"),
            (["--src", source, "--dest", "dest"], "--dest must be an absolute path"),
        ]
        for (paths, message) in cases {
            let outcome = try await HASyncProcess.run(paths + ["--pair", "p", "--log-dir", logs])
            #expect(outcome.status == 64, "\(paths)")
            #expect(outcome.stderr.contains(message), "\(paths): \(outcome.stderr)")
        }
    }

    @Test func aBadDSNIsRejectedWithoutShowingThePassword() async throws {
        let secret = "s3cr3t-Pa55"
        let outcome = try await HASyncProcess.run(
            ["--src", source, "--dest", destination, "--pair", "p", "--log-dir", logs, "--db-dsn", "bob:\(secret)@tcp(db:notaport)/general_db"])
        #expect(outcome.status == 64)
        #expect(outcome.stderr.contains("invalid database DSN"))
        #expect(!outcome.stderr.contains(secret) && !outcome.stdout.contains(secret))

        let fromEnvironment = try await HASyncProcess.run(
            ["--src", source, "--dest", destination, "--pair", "p", "--log-dir", logs], environment: ["HA_SYNC_DB_DSN": "nonsense:\(secret)"])
        #expect(fromEnvironment.status == 64)
        #expect(fromEnvironment.stderr.contains("HA_SYNC_DB_DSN"))
        #expect(!fromEnvironment.stderr.contains(secret))
    }

    @Test func aMissingSourceIsAOneLineFailure() async throws {
        let outcome = try await HASyncProcess.run(["--src", source + "/nope", "--dest", destination, "--pair", "p", "--log-dir", logs])
        #expect(outcome.status == 1)
        let lines = outcome.stderr.split(separator: "\n").filter { $0.contains("error") }
        #expect(lines.count == 1)
        #expect(lines.first?.contains("source directory \(source)/nope cannot be used: No such file or directory") == true)
    }

    @Test func aMissingDestinationIsNotCreatedAndTheErrorSaysWhatToDo() async throws {
        let outcome = try await HASyncProcess.run(["--src", source, "--dest", destination + "/nope", "--pair", "p", "--log-dir", logs])
        #expect(outcome.status == 1)
        #expect(outcome.stderr.contains("destination directory \(destination)/nope does not exist"))
        #expect(outcome.stderr.contains("mkdir") && outcome.stderr.contains("--create-dest"))
        #expect(!FileManager.default.fileExists(atPath: destination + "/nope"))
    }

    @Test func createDestMakesTheMissingRoot() async throws {
        try TemporaryTree.write(source, "f.txt", "x")
        let outcome = try await HASyncProcess.run(
            ["--src", source, "--dest", destination + "/new/root", "--pair", "p", "--log-dir", logs, "--create-dest"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(FileManager.default.fileExists(atPath: destination + "/new/root/f.txt"))
    }

    /// The specification's rollout guide writes `--dry-run=true` and `--delete-missing=false`.
    @Test func booleanFlagsAcceptTrueAndFalse() async throws {
        try TemporaryTree.write(source, "f.txt", "x")
        try TemporaryTree.write(destination, "only-here.txt", "keep")
        let base = ["--src", source, "--dest", destination, "--pair", "p", "--log-dir", logs, "--output", "json"]
        let dry = try await HASyncProcess.run(base + ["--dry-run=true", "--delete-missing=true", "--max-delete", "100"])
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.summary?["dry_run"] as? Bool == true)
        #expect(dry.summary?["deleted"] as? Int == 1)
        #expect(!FileManager.default.fileExists(atPath: destination + "/f.txt"))

        let real = try await HASyncProcess.run(base + ["--dry-run=false", "--delete-missing=false"])
        #expect(real.status == 0, "\(real.stderr)")
        #expect(real.summary?["dry_run"] as? Bool == false)
        #expect(FileManager.default.fileExists(atPath: destination + "/f.txt"))
        #expect(FileManager.default.fileExists(atPath: destination + "/only-here.txt"), "--delete-missing=false deletes nothing")
    }

    @Test func jsonLogsAreOneObjectPerLine() async throws {
        try TemporaryTree.write(source, "f.txt", "x")
        let outcome = try await HASyncProcess.run(["--src", source, "--dest", destination, "--pair", "p", "--log-dir", logs, "--log-format", "json"])
        #expect(outcome.status == 0)
        let lines = outcome.stderr.split(separator: "\n")
        #expect(!lines.isEmpty)
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["level"] != nil && object?["message"] != nil && object?["pair"] as? String == "p")
        }
    }
}
