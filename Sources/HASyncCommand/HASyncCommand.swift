public import ArgumentParser
import AuditDSN
import Foundation
import Logging
import SyncCore
import SyncEngine
import SyncFileSystem
import SyncRunner
import SyncTrees

/// `ha-sync`: one sync run of a folder pair, one-way or (with `--bidirectional`) both ways.
public struct HASyncCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "ha-sync",
        abstract: "Sync one folder pair: both ways against a state archive (--bidirectional), or make DEST match SRC.",
        discussion: """
            With --bidirectional (recommended) one run syncs both sides: each side is compared with \
            the state of the last sync, changes and deletes travel both ways, and a path changed on \
            both sides keeps both versions (a conflict copy). Without it, the run is one-way (newest \
            mtime wins); two one-way runs per pair share the pair's lock. Exit status: 0 success (or the pair is locked by another run), \
            1 failed run, 2 some files failed, 3 refused by a guard, 64 usage error, \
            130/143 stopped by SIGINT/SIGTERM. Every run is recorded in an opslog in --log-dir and then in \
            the audit database. 'ha-sync prune-history --help' deletes old audit rows. See docs/cli.md.
            """,
        version: "0.1.0"
    )

    @Option(help: ArgumentHelp("Source directory (absolute path), or a remote peer: hasync://HOST:PORT/ROOT.", valueName: "dir"))
    var src: String

    @Option(
        help: ArgumentHelp(
            "Destination directory (absolute path; must exist unless --create-dest), or a remote peer: hasync://HOST:PORT/ROOT. Give it again to fan out to several destinations (one-way).",
            valueName: "dir"))
    var dest: [String]

    @Option(
        name: .customLong("publish-after"),
        help: ArgumentHelp(
            "Put a file matching PATTERN in place only after DEPENDENCY (relative to its folder; ${stem} and ${name} are replaced) is complete on the same destination, e.g. '*.json=${stem}.squashfs'. Repeatable.",
            valueName: "pattern=dependency"))
    var publishAfter: [String] = []

    @Option(
        name: .customLong("publish-last"),
        help: ArgumentHelp("Put files matching PATTERN in place after every other file of the run. Repeatable.", valueName: "pattern"))
    var publishLast: [String] = []

    @Flag(
        name: .customLong("delay-updates"),
        help: "Keep every copied file under a temporary name until the end, then rename them all into place together (per destination).")
    var delayUpdates = false

    @Option(
        name: .customLong("min-age"),
        help: ArgumentHelp(
            "Leave source files modified less than this long ago (e.g. 30s, 5m, 1h) for a later run: they may still be written.",
            valueName: "duration"))
    var minAge: String?

    @Option(
        name: .customLong("peer-token-file"),
        help: ArgumentHelp(
            "File holding the token for hasync:// peers (default: $HA_SYNC_PEER_TOKEN_FILE). The token is never logged.", valueName: "file"))
    var peerTokenFile: String?

    @Option(
        name: .customLong("peer-ca"),
        help: ArgumentHelp(
            "PEM file with the CA that signed the peers' certificates, or a peer's own certificate to pin it (default: $HA_SYNC_PEER_CA, else the system's roots).",
            valueName: "file"))
    var peerCA: String?

    @Flag(help: "Deflate file data sent to and from hasync:// peers (for slow links; data that does not shrink goes as it is).")
    var compress = false

    @Flag(
        name: .customLong("create-dest"),
        help: "Create the destination directory if it is missing (off by default: a missing root is usually an unmounted volume).")
    var createDest = false

    @Option(help: ArgumentHelp("Pair name, e.g. media; names the lock (ha-sync-<pair>). Lowercase letters, digits and '-'.", valueName: "name"))
    var pair: String

    @Option(
        help: ArgumentHelp(
            "Direction label for logs and the audit trail, e.g. dell-to-hp. Default: fwd, or both with --bidirectional.", valueName: "label"))
    var direction: String?

    @Flag(
        help: "Sync both ways against the pair's state archive: changes and deletes travel both ways, conflicts keep both versions.")
    var bidirectional = false

    @Option(
        help: ArgumentHelp("State archive of a --bidirectional pair. Default: <log-dir>/state/<pair>.db.", valueName: "file"))
    var archive: String?

    @Flag(
        inversion: .prefixedNo,
        help: "Keep what a sync replaces or deletes in each side's .ha-sync-versions/ (default: on with --bidirectional, off otherwise).")
    var versions: Bool?

    @Option(
        help: ArgumentHelp(
            "Keep rules for versions: a grid like '1x1h(keep=all) | 24x1h | 30x1d | 12x30d' (the default) or last=N.", valueName: "rules"))
    var keep: String?

    @Option(name: .customLong("keep-min"), help: ArgumentHelp("Always keep the newest N versions of each file.", valueName: "n"))
    var keepMin: Int = 1

    @Option(
        name: .customLong("versions-max-size"),
        help: ArgumentHelp("Cap on each side's version store (e.g. 50G); the oldest versions go first, never below --keep-min.", valueName: "size"))
    var versionsMaxSize: String?

    @Option(
        name: .customLong("exclude"),
        help: ArgumentHelp(
            "Leave out paths matching PATTERN (gitignore-style: *, **, ?, [...], a leading / anchors, a trailing / means folders). Repeatable; with --include, the first matching rule wins.",
            valueName: "pattern"))
    var excludeHelp: [String] = []

    @Option(name: .customLong("include"), help: ArgumentHelp("Keep paths matching PATTERN even if a later --exclude matches.", valueName: "pattern"))
    var includeHelp: [String] = []

    /// `--exclude` and `--include` in the order given, as `- pattern` / `+ pattern` (the two
    /// options are rewritten into this one before parsing, so their order survives).
    @Option(name: .customLong("filter"), help: ArgumentHelp(visibility: .hidden))
    var filter: [String] = []

    @Option(
        name: .customLong("filter-from"),
        help: ArgumentHelp(
            "Read rules from FILE: one per line, '- pattern' or '+ pattern', '#' comments (after --exclude/--include).", valueName: "file"))
    var filterFrom: String?

    @Option(
        name: .customLong("side-names"),
        help: ArgumentHelp("Names of the two sides in conflict copies, e.g. dell,hp. Default: a,b.", valueName: "a,b"))
    var sideNames: String?

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
        help: ArgumentHelp("Modification times at most this many seconds apart count as equal.", valueName: "seconds"))
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

    /// Accepts the specification's `--dry-run=true|false` and `--delete-missing=true|false`
    /// beside the bare flags, by rewriting them to the forms the parser knows.
    public static func normalizingBooleanFlags(_ arguments: [String]) -> [String] {
        var result: [String] = []
        var skipNext = false
        outer: for (index, argument) in arguments.enumerated() {
            if skipNext {
                skipNext = false
                continue
            }
            if argument == "--" {  // the rest are values, never flags
                return result + arguments[index...]
            }
            // --exclude/--include become one ordered --filter list: first match wins.
            for (flag, sign) in [("--exclude", "- "), ("--include", "+ ")] {
                if argument.hasPrefix(flag + "=") {
                    // Attached: a value starting with '-' would otherwise read as an option.
                    result.append("--filter=" + sign + argument.dropFirst(flag.count + 1))
                    skipNext = false
                    continue outer
                }
                if argument == flag, index + 1 < arguments.count {
                    result.append("--filter=" + sign + arguments[index + 1])
                    skipNext = true
                    continue outer
                }
            }
            switch argument.lowercased() {
            case "--dry-run=true": result.append("--dry-run")
            case "--dry-run=false": break
            case "--delete-missing=true": result.append("--delete-missing")
            case "--delete-missing=false": result.append("--no-delete-missing")
            default: result.append(argument)
            }
        }
        return result
    }

    /// The run's configuration from the flags, layered over the environment (`HA_SYNC_DB_DSN`,
    /// `KUBECONFIG`, `POD_NAME`/`HOSTNAME`), validated once.
    func makeConfiguration(environment: [String: String]) throws -> RunConfiguration {
        guard let firstDestination = dest.first else { throw ValidationError("Missing expected argument '--dest <dir>'") }
        var configuration = RunConfiguration(pair: pair, source: src, destination: firstDestination)
        configuration.additionalDestinations = Array(dest.dropFirst())
        configuration.delayUpdates = delayUpdates
        if let minAge {
            guard let seconds = Self.parseDuration(minAge) else {
                throw ValidationError("--min-age takes a duration like 30s, 5m or 1h (or plain seconds), got '\(minAge)'")
            }
            configuration.minAgeSeconds = seconds
        }
        configuration.direction = direction ?? (bidirectional ? "both" : "fwd")
        configuration.bidirectional = bidirectional
        configuration.versions = versions
        do {
            var rules: [FilterRule] = []
            for (index, rule) in filter.enumerated() {
                rules += try FilterRules.parse(lines: rule, origin: "command line rule \(index + 1)")
            }
            if let filterFrom {
                guard let text = try? String(contentsOfFile: filterFrom, encoding: .utf8) else {
                    throw ValidationError("--filter-from \(filterFrom) cannot be read")
                }
                rules += try FilterRules.parse(lines: text, origin: filterFrom)
            }
            configuration.filterRules = rules
            configuration.publication = PublicationRules(
                after: try publishAfter.map { try PublicationRules.parseAfter($0) }, last: try publishLast.map { try PublicationRules.parseLast($0) })
        } catch let error as FilterError {
            throw ValidationError(error.message)
        }
        configuration.keep = keep
        configuration.keepMin = keepMin
        if let versionsMaxSize {
            guard let bytes = Self.parseSize(versionsMaxSize) else {
                throw ValidationError("--versions-max-size takes a size like 500M, 50G or 2T (binary units), got '\(versionsMaxSize)'")
            }
            configuration.versionsMaxBytes = bytes
        }
        configuration.archivePath = archive
        if let sideNames {
            let names = sideNames.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard names.count == 2 else { throw ValidationError("--side-names takes two names separated by a comma, e.g. dell,hp") }
            configuration.sideLabels = SideLabels(a: names[0], b: names[1])
        }
        configuration.logDirectory = logDir
        configuration.opslogRetainDays = logRetainDays
        configuration.mtimeThresholdSeconds = mtimeThreshold
        configuration.deleteMissing = deleteMissing
        configuration.createDestination = createDest
        configuration.maxDeletePercent = maxDelete
        configuration.workers = workers
        configuration.dryRun = dryRun
        configuration.copy = CopyOptions(verify: verify, fsync: fsync)
        configuration.lock.kind = lock.kind
        configuration.lock.ttlSeconds = lockTTL
        configuration.lock.kubeconfig = kubeconfig ?? environment["KUBECONFIG"].flatMap { $0.isEmpty ? nil : $0 }
        configuration.lock.namespace = leaseNamespace
        configuration.lock.holderName = environment["POD_NAME"] ?? environment["HOSTNAME"] ?? ProcessInfo.processInfo.hostName
        configuration.lock.inCluster = RunLocks.isInCluster()
        do {
            configuration.auditDSN = try AuditStores.dsn(option: dbDSN, environment: environment)
            try configuration.validate()
        } catch {
            throw ValidationError("\(error)")
        }
        return configuration
    }

    /// `90`, `30s`, `5m`, `2h`, `1d` in seconds.
    static func parseDuration(_ text: String) -> Double? {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        var digits = Substring(text.lowercased())
        var multiplier = 1.0
        if let last = digits.last, let unit = units[last] {
            multiplier = unit
            digits = digits.dropLast()
        }
        guard let value = Double(digits), value.isFinite, value >= 0 else { return nil }
        return value * multiplier
    }

    /// `123`, `500K`, `50G`, `2T` (binary units) in bytes.
    static func parseSize(_ text: String) -> Int64? {
        let units: [Character: Int64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        var digits = Substring(text.uppercased())
        var multiplier: Int64 = 1
        if digits.hasSuffix("B") && digits.count > 1 && units[digits[digits.index(digits.endIndex, offsetBy: -2)]] != nil {
            digits = digits.dropLast()
        }
        if let last = digits.last, let unit = units[last] {
            multiplier = unit
            digits = digits.dropLast()
        }
        guard let value = Int64(digits), value >= 0 else { return nil }
        let (bytes, overflow) = value.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : bytes
    }

    public func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let configuration = try makeConfiguration(environment: environment)
        let console = Console.shared
        var logger = Logger(label: "ha-sync") { label in
            StderrLogHandler(label: label, format: logFormat, console: console)
        }
        logger.logLevel = verbose ? .debug : .info
        logger[metadataKey: "pair"] = "\(pair)"
        logger[metadataKey: "direction"] = "\(configuration.direction)"

        let live = output == .text && !noProgress && console.stderrIsTerminal && logFormat == .text
        let reporter = ConsoleReporter(
            console: console, format: output, pair: configuration.pair, direction: configuration.direction,
            dryRun: configuration.dryRun, verbose: verbose, live: live, logger: logger)
        let locks: RunLocks
        do {
            locks = try RunLocks.make(for: configuration, logger: logger)
        } catch {
            logger.error("\(error)")
            throw ExitCode(ExitStatus.failed.rawValue)
        }
        let dsn = configuration.resolvedAuditDSN
        let storeLogger = logger
        let peers = try PeerConnections(
            sides: [configuration.source] + configuration.destinations,
            tokenFile: peerTokenFile ?? environment["HA_SYNC_PEER_TOKEN_FILE"], trustFile: peerCA ?? environment["HA_SYNC_PEER_CA"],
            compress: compress)
        let parts = SyncRunner<AnySyncTree, AnySyncTree>.Parts(
            lock: locks.lock,
            openStore: { try await AuditStores.open(dsn, logger: storeLogger) },
            openSource: { try peers.openTree(configuration.source) },
            openDestination: { destination in
                if configuration.createDestination {
                    try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true)
                }
                return try peers.openTree(destination)
            })
        let runner = SyncRunner(configuration: configuration, parts: parts, reporter: reporter, logger: logger)
        let outcome = try await RunServices.run(runner, progressInterval: live ? .milliseconds(500) : .seconds(30), logger: logger)
        peers.shutdown()
        await locks.close()
        if outcome.status != .success {
            throw ExitCode(outcome.status.rawValue)
        }
    }
}

/// Which run lock to use.
public enum LockKind: String, ExpressibleByArgument, Sendable, CaseIterable {
    case auto
    case file
    case kubernetes

    var kind: RunConfiguration.Lock.Kind {
        switch self {
        case .auto: .auto
        case .file: .file
        case .kubernetes: .kubernetes
        }
    }
}

/// Output formats for `--output` and `--log-format`.
public enum OutputFormat: String, ExpressibleByArgument, Sendable, CaseIterable {
    case text
    case json
}
