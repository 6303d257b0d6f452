public import ArgumentParser
import Foundation
import SyncCore

/// `ha-sync`: one one-way sync run of a folder pair.
public struct HASyncCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "ha-sync",
        abstract: "Make DEST match SRC for one folder pair: newest mtime wins, mtimes are preserved.",
        discussion: """
            Run two of these per pair, one per direction, never at the same time (both directions \
            share the pair's lock). Exit status: 0 success (or the pair is locked by another run), \
            1 failed run, 2 some files failed, 3 refused by a delete guard, 64 usage error, \
            130/143 stopped by SIGINT/SIGTERM. Every run is recorded in an opslog in --log-dir and then in \
            the audit database. 'ha-sync prune-history --help' deletes old audit rows. See docs/cli.md.
            """,
        version: "0.1.0"
    )

    @Option(help: ArgumentHelp("Source directory (absolute path).", valueName: "dir"))
    var src: String

    @Option(help: ArgumentHelp("Destination directory (absolute path). Must exist.", valueName: "dir"))
    var dest: String

    @Option(help: ArgumentHelp("Pair name, e.g. media; names the lock (ha-sync-<pair>). Lowercase letters, digits and '-'.", valueName: "name"))
    var pair: String

    @Option(help: ArgumentHelp("Direction label for logs and the audit trail, e.g. dell-to-hp.", valueName: "label"))
    var direction: String = "fwd"

    @Option(
        name: .customLong("db-dsn"),
        help: ArgumentHelp(
            "Audit database: sqlite:///path.db, mysql://user:pass@host:3306/db or user:pass@tcp(host:3306)/db. Default: $HA_SYNC_DB_DSN, else sqlite:///<log-dir>/ha-sync.db.",
            valueName: "dsn"))
    var dbDSN: String?

    @Option(
        name: .customLong("lock-ttl"),
        help: ArgumentHelp("Seconds before a lock whose holder stopped renewing it counts as stale.", valueName: "seconds"))
    var lockTTL: Int = 3600

    @Option(
        help: ArgumentHelp("Run lock: auto (a Kubernetes Lease in a cluster, else a lock file in --log-dir), file or kubernetes.", valueName: "kind"))
    var lock: LockKind = .auto

    @Option(help: ArgumentHelp("kubeconfig for --lock kubernetes outside a cluster. Default: $KUBECONFIG.", valueName: "file"))
    var kubeconfig: String?

    @Option(
        name: .customLong("lease-namespace"),
        help: ArgumentHelp(
            "Namespace of the Lease. Default: the pod's namespace in a cluster, else the kubeconfig context's, else infrastructure.", valueName: "ns")
    )
    var leaseNamespace: String?

    @Option(name: .customLong("log-dir"), help: ArgumentHelp("Directory for opslogs and the lock file.", valueName: "dir"))
    var logDir: String = "/var/log/ha-sync"

    @Option(name: .customLong("log-retain-days"), help: ArgumentHelp("Delete unflushed opslogs older than this many days.", valueName: "days"))
    var logRetainDays: Int = 10

    @Option(
        name: .customLong("mtime-threshold"),
        help: ArgumentHelp("Modification times closer than this many seconds count as equal.", valueName: "seconds"))
    var mtimeThreshold: Double = 2

    @Flag(name: .customLong("delete-missing"), inversion: .prefixedNo, help: "Delete destination entries that are missing on the source.")
    var deleteMissing = false

    @Option(
        name: .customLong("max-delete"),
        help: ArgumentHelp(
            "With --delete-missing: refuse a run that would delete more than this percent of the destination's files (100 allows any).",
            valueName: "percent"))
    var maxDelete: Int = 50

    @Option(help: ArgumentHelp("Files copied, hashed or deleted at the same time.", valueName: "n"))
    var workers: Int = 4

    @Flag(name: .customLong("dry-run"), help: "Compute and print the plan; change nothing.")
    var dryRun = false

    @Flag(help: "Hash every copied file and check the written copy against it (costs CPU on large files).")
    var verify = false

    @Flag(help: "fsync every copied file before renaming it into place (slower; survives a power cut).")
    var fsync = false

    @Option(help: ArgumentHelp("Plan and result output on stdout: text or json (one JSON object per line).", valueName: "format"))
    var output: OutputFormat = .text

    @Option(name: .customLong("log-format"), help: ArgumentHelp("Log lines on stderr: text or json.", valueName: "format"))
    var logFormat: OutputFormat = .text

    @Flag(name: .customLong("no-progress"), help: "No live progress line, even on a terminal.")
    var noProgress = false

    @Flag(name: .shortAndLong, help: "List each operation and every notable skip.")
    var verbose = false

    public init() {}

    public mutating func validate() throws {
        guard (1...256).contains(workers) else { throw ValidationError("--workers must be between 1 and 256, got \(workers)") }
        guard mtimeThreshold.isFinite && mtimeThreshold >= 0 else {
            throw ValidationError("--mtime-threshold must be zero or more seconds, got \(mtimeThreshold)")
        }
        guard lockTTL >= 10 else { throw ValidationError("--lock-ttl must be at least 10 seconds, got \(lockTTL)") }
        guard logRetainDays >= 1 else { throw ValidationError("--log-retain-days must be at least 1, got \(logRetainDays)") }
        guard (0...100).contains(maxDelete) else { throw ValidationError("--max-delete must be a percentage from 0 to 100, got \(maxDelete)") }
        guard Self.isValidPairName(pair) else {
            throw ValidationError("--pair '\(pair)' must be 1-52 lowercase letters, digits or '-', starting and ending with a letter or digit")
        }
        guard Self.isValidDirection(direction) else {
            throw ValidationError("--direction '\(direction)' must be 1-64 letters, digits, '.', '_' or '-'")
        }
        guard !logDir.isEmpty else { throw ValidationError("--log-dir must not be empty") }
        src = try Self.absolute(src, flag: "--src")
        dest = try Self.absolute(dest, flag: "--dest")
        if let overlap = PathOverlap.check(source: src, destination: dest) {
            throw ValidationError(overlap)
        }
        try AuditStores.validateOption(dbDSN)
    }

    public func run() async throws {
        let status = await SyncRun(options: self).run()
        if status != .success {
            throw ExitCode(status.rawValue)
        }
    }

    static func isValidPairName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...52).contains(bytes.count) else { return false }
        let allowed = bytes.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }
        return allowed && bytes.first != 0x2D && bytes.last != 0x2D
    }

    static func isValidDirection(_ label: String) -> Bool {
        let bytes = Array(label.utf8)
        guard (1...64).contains(bytes.count) else { return false }
        return bytes.allSatisfy {
            ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D || $0 == 0x2E || $0 == 0x5F
        }
    }

    static func absolute(_ path: String, flag: String) throws -> String {
        guard path.hasPrefix("/") else { throw ValidationError("\(flag) must be an absolute path, got '\(path)'") }
        return PathOverlap.normalize(path)
    }
}

/// Which run lock to use.
public enum LockKind: String, ExpressibleByArgument, Sendable, CaseIterable {
    case auto
    case file
    case kubernetes
}

/// Output formats for `--output` and `--log-format`.
public enum OutputFormat: String, ExpressibleByArgument, Sendable, CaseIterable {
    case text
    case json
}
