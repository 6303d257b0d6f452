public import AuditDSN
import Foundation
public import SyncCore
public import SyncEngine
public import SyncTrees

/// Everything one sync run needs to know, built once from flags and environment and
/// validated once. Nothing below the command line sees the command's options.
public struct RunConfiguration: Sendable {
    /// How the run lock is taken.
    public struct Lock: Sendable, Hashable {
        public enum Kind: String, Sendable, Hashable, CaseIterable {
            /// A Kubernetes Lease in a pod, else the lock file.
            case auto
            case file
            case kubernetes
        }

        public var kind: Kind = .auto
        /// Seconds before a lock whose holder stopped renewing it counts as stale.
        public var ttlSeconds = 3600
        /// kubeconfig for a Lease taken outside a cluster.
        public var kubeconfig: String?
        /// The Lease's namespace; default: the pod's, else the kubeconfig context's, else `infrastructure`.
        public var namespace: String?
        /// Who this run is, readable (`<pod or host>`); the Lease holder adds the direction and a per-run suffix.
        public var holderName = "ha-sync"
        /// Whether the process runs in a pod (a service account is mounted).
        public var inCluster = false

        public init() {}
    }

    public var pair: String
    public var direction = "fwd"
    /// Side A: the source in one-way mode. An absolute path, or a remote peer (`hasync://HOST:PORT/ROOT`).
    public var source: String
    /// Side B: the destination in one-way mode. An absolute path that must exist, or a remote peer.
    public var destination: String
    /// More destinations for a fan-out run (`--dest` given again): one walk of the source
    /// feeds them all, each at its own pace, each recorded as its own iteration.
    public var additionalDestinations: [String] = []
    /// Opslogs and the lock file.
    public var logDirectory = "/var/log/ha-sync"
    /// The audit store; `nil` means SQLite in ``logDirectory``.
    public var auditDSN: DatabaseDSN?
    public var lock = Lock()
    /// Unflushed opslogs older than this are deleted.
    public var opslogRetainDays = 10
    /// Modification times at most this far apart count as equal.
    public var mtimeThresholdSeconds = 2.0
    public var deleteMissing = false
    /// Create side B's root when it is missing. Off by default: a missing root is usually an
    /// unmounted volume, and filling its mount point would hide the problem.
    public var createDestination = false
    public var maxDeletePercent = 50
    public var workers = 4
    public var dryRun = false
    public var copy = CopyOptions()
    /// Sync both ways against the pair's state archive (deletes propagate both ways, guarded).
    public var bidirectional = false
    /// The state archive of a bidirectional pair; `nil` means `<log-dir>/state/<pair>.db`.
    public var archivePath: String?
    /// How the sides are named in conflict copies.
    public var sideLabels = SideLabels()
    /// Keep what a sync replaces or deletes in `.ha-sync-versions/`; `nil`: on for
    /// bidirectional pairs, off for one-way ones.
    public var versions: Bool?
    /// The keep rules' text (`--keep`); `nil`: ``KeepRules/defaultText``.
    public var keep: String?
    public var keepMin = 1
    /// `--versions-max-size`, in bytes.
    public var versionsMaxBytes: Int64?

    /// Filter rules from the command line and `--filter-from`, in order; each side's
    /// `.ha-sync-ignore` is added when the run starts.
    public var filterRules: [FilterRule] = []
    /// `--publish-after` and `--publish-last`.
    public var publication = PublicationRules()
    /// `--delay-updates`: each destination's copies are renamed into place together at the end.
    public var delayUpdates = false
    /// `--min-age`: source files modified less than this many seconds ago wait for a later run.
    public var minAgeSeconds: Double = 0

    /// Every destination of the run, the first one first.
    public var destinations: [String] { [destination] + additionalDestinations }

    /// Whether the run feeds several destinations.
    public var isFanOut: Bool { !additionalDestinations.isEmpty }

    /// Whether this run keeps versions.
    public var versionsEnabled: Bool { versions ?? bidirectional }

    /// The keep rules in effect (validated by ``validate()``).
    public var keepRules: KeepRules {
        KeepRules(rule: (try? KeepRules.parse(keep ?? KeepRules.defaultText)) ?? .last(1), keepMin: keepMin, maxBytes: versionsMaxBytes)
    }

    public init(pair: String, source: String, destination: String) {
        self.pair = pair
        self.source = source
        self.destination = destination
    }

    /// The audit store in effect.
    public var resolvedAuditDSN: DatabaseDSN {
        AuditStores.resolve(auditDSN, logDirectory: logDirectory)
    }

    /// The state archive in effect.
    public var resolvedArchivePath: String {
        archivePath ?? (logDirectory as NSString).appendingPathComponent("state/\(pair).db")
    }

    /// The bidirectional rules in effect.
    public var bidirectionalRules: BidirectionalRules {
        BidirectionalRules(mtimeThresholdNanoseconds: Int64((mtimeThresholdSeconds * 1e9).rounded()))
    }

    /// The engine's part of the configuration.
    public var sync: SyncConfiguration {
        var configuration = SyncConfiguration(
            reconciler: ComparisonRules(mtimeThresholdNanoseconds: Int64((mtimeThresholdSeconds * 1e9).rounded()), deleteMissing: deleteMissing),
            deleteGuard: DeleteGuard(maxDeletePercent: maxDeletePercent),
            workers: isFanOut ? Self.fanOutWorkers(total: workers, destinations: destinations.count) : workers,
            dryRun: dryRun,
            copyOptions: copy)
        configuration.publication = publication
        configuration.delayUpdates = delayUpdates
        return configuration
    }

    /// Each destination's share of `--workers` in a fan-out run: an equal part, at least one.
    static func fanOutWorkers(total: Int, destinations: Int) -> Int {
        max(1, (total + destinations - 1) / destinations)
    }

    /// This configuration narrowed to destination `index` of a fan-out run: its own path, and
    /// a direction label of its own (`fwd.2`), which keeps its audit trail and dry-run history apart.
    public func forDestination(_ index: Int) -> RunConfiguration {
        var narrowed = self
        narrowed.destination = destinations[index]
        narrowed.additionalDestinations = []
        narrowed.direction = "\(direction).\(index + 1)"
        narrowed.workers = Self.fanOutWorkers(total: workers, destinations: destinations.count)
        return narrowed
    }

    /// Checks every value and normalises the two roots. The error names the flag to fix.
    public mutating func validate() throws(ConfigurationError) {
        guard (1...256).contains(workers) else { throw ConfigurationError("--workers must be between 1 and 256, got \(workers)") }
        guard mtimeThresholdSeconds.isFinite && mtimeThresholdSeconds >= 0 else {
            throw ConfigurationError("--mtime-threshold must be zero or more seconds, got \(mtimeThresholdSeconds)")
        }
        guard lock.ttlSeconds >= 10 else { throw ConfigurationError("--lock-ttl must be at least 10 seconds, got \(lock.ttlSeconds)") }
        guard opslogRetainDays >= 1 else { throw ConfigurationError("--log-retain-days must be at least 1, got \(opslogRetainDays)") }
        guard (0...100).contains(maxDeletePercent) else {
            throw ConfigurationError("--max-delete must be a percentage from 0 to 100, got \(maxDeletePercent)")
        }
        guard Self.isValidPairName(pair) else {
            throw ConfigurationError("--pair '\(pair)' must be 1-52 lowercase letters, digits or '-', starting and ending with a letter or digit")
        }
        guard Self.isValidDirection(direction) else {
            throw ConfigurationError("--direction '\(direction)' must be 1-64 letters, digits, '.', '_' or '-'")
        }
        guard !logDirectory.isEmpty else { throw ConfigurationError("--log-dir must not be empty") }
        for label in [sideLabels.a, sideLabels.b] where !Self.isValidDirection(label) {
            throw ConfigurationError("--side-names: '\(label)' must be 1-64 letters, digits, '.', '_' or '-'")
        }
        guard sideLabels.a != sideLabels.b else { throw ConfigurationError("--side-names must name the two sides differently") }
        if let archivePath { self.archivePath = try Self.absolute(archivePath, flag: "--archive") }
        do {
            _ = try KeepRules.parse(keep ?? KeepRules.defaultText)
        } catch {
            throw ConfigurationError(error.message)
        }
        guard keepMin >= 0 else { throw ConfigurationError("--keep-min must be zero or more, got \(keepMin)") }
        if let versionsMaxBytes, versionsMaxBytes < 1 { throw ConfigurationError("--versions-max-size must be at least 1 byte") }
        guard minAgeSeconds.isFinite && minAgeSeconds >= 0 else {
            throw ConfigurationError("--min-age must be zero or more seconds, got \(minAgeSeconds)")
        }
        if bidirectional {
            if isFanOut { throw ConfigurationError("--bidirectional syncs one pair: give --dest once (fan-out to several destinations is one-way)") }
            if !publication.isEmpty || delayUpdates || minAgeSeconds > 0 {
                throw ConfigurationError("--publish-after, --publish-last, --delay-updates and --min-age work in one-way runs only")
            }
        }
        if !Self.isRemote(source) { source = try Self.absolute(source, flag: "--src") }
        if !Self.isRemote(destination) { destination = try Self.absolute(destination, flag: "--dest") }
        for index in additionalDestinations.indices where !Self.isRemote(additionalDestinations[index]) {
            additionalDestinations[index] = try Self.absolute(additionalDestinations[index], flag: "--dest")
        }
        for destination in destinations {
            if Self.isRemote(destination) && createDestination {
                throw ConfigurationError("--create-dest works on local paths only: a remote root is created on its server (ha-sync serve --root)")
            }
            if Self.isRemote(destination) && delayUpdates {
                throw ConfigurationError("--delay-updates needs local destinations (\(destination) is a remote peer)")
            }
            if !Self.isRemote(source) && !Self.isRemote(destination), let overlap = PathOverlap.check(source: source, destination: destination) {
                throw ConfigurationError(overlap)
            }
            if source == destination {
                throw ConfigurationError(isFanOut ? "--src and the --dest \(destination) are the same tree" : "--src and --dest are the same tree")
            }
        }
        let all = destinations
        for (index, first) in all.enumerated() {
            for second in all[(index + 1)...] {
                if first == second { throw ConfigurationError("--dest \(first) is given twice") }
                if !Self.isRemote(first) && !Self.isRemote(second) && (first.hasPrefix(second + "/") || second.hasPrefix(first + "/")) {
                    throw ConfigurationError("--dest \(first) and --dest \(second) overlap: one lies inside the other")
                }
            }
        }
    }

    /// Whether a side is a remote peer (`hasync://HOST:PORT/ROOT`) rather than a local path.
    public static func isRemote(_ side: String) -> Bool {
        side.hasPrefix("hasync://")
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

    static func absolute(_ path: String, flag: String) throws(ConfigurationError) -> String {
        guard path.hasPrefix("/") else { throw ConfigurationError("\(flag) must be an absolute path, got '\(path)'") }
        return PathOverlap.normalize(path)
    }
}

/// A configuration value that cannot be used; the message names the flag.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
