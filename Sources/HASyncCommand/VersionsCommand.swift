public import ArgumentParser
import Foundation
import Logging
import RunLock
import SyncCore
import SyncEngine
import SyncFileSystem
import SyncRunner
import SyncTrees

/// `ha-sync versions`: look into a side's version store, bring a version back, prune it.
public struct VersionsCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "ha-sync versions",
        abstract: "List, restore and prune the versions kept in a side's .ha-sync-versions/.",
        discussion:
            "Restore and prune take the pair's lock, so they never run beside a sync of the pair. Exit status: 0 done, 1 failed, 64 usage error.",
        subcommands: [List.self, Restore.self, Prune.self]
    )

    public init() {}

    /// Options every subcommand shares.
    struct Common: ParsableArguments {
        @Option(help: ArgumentHelp("The side's root folder (absolute), as given to --src or --dest.", valueName: "dir"))
        var root: String

        @Option(help: ArgumentHelp("Output: text or json (one object per line).", valueName: "format"))
        var output: OutputFormat = .text

        func tree() throws -> LocalTree {
            guard root.hasPrefix("/") else { throw ValidationError("--root must be an absolute path, got '\(root)'") }
            do {
                return try LocalTree(root: root)
            } catch {
                throw ValidationError("--root \(root) cannot be used: \(error)")
            }
        }
    }

    /// The lock options of the subcommands that change the store.
    struct Locking: ParsableArguments {
        @Option(help: ArgumentHelp("Pair name: the lock taken while the store changes.", valueName: "name"))
        var pair: String

        @Option(name: .customLong("log-dir"), help: ArgumentHelp("Where the pair's lock file lives.", valueName: "dir"))
        var logDir: String = "/var/log/ha-sync"

        @Option(help: ArgumentHelp("Run lock: auto, file or kubernetes, as for a sync.", valueName: "kind"))
        var lock: LockKind = .auto

        /// Runs `body` holding the pair's lock; a pair locked by a running sync is an error.
        func withLock<T: Sendable>(root: String, _ body: () async throws -> T) async throws -> T {
            var configuration = RunConfiguration(pair: pair, source: root, destination: root + "/.ha-sync-versions")
            configuration.logDirectory = logDir
            configuration.direction = "versions"
            configuration.lock.kind = lock.kind
            configuration.lock.kubeconfig = ProcessInfo.processInfo.environment["KUBECONFIG"]
            configuration.lock.holderName = ProcessInfo.processInfo.environment["POD_NAME"] ?? ProcessInfo.processInfo.hostName
            configuration.lock.inCluster = RunLocks.isInCluster()
            try FileManager.default.createDirectory(atPath: logDir, withIntermediateDirectories: true)
            let locks = try RunLocks.make(for: configuration, logger: Logger(label: "ha-sync"))
            defer { Task { await locks.close() } }
            switch try await locks.lock.acquire() {
            case .held(let holder):
                throw VersionsError("pair \(pair) is locked by another run (\(holder)); try again when it has finished")
            case .acquired(let hold):
                do {
                    let value = try await body()
                    await hold.release()
                    return value
                } catch {
                    await hold.release()
                    throw error
                }
            }
        }
    }

    /// `ha-sync versions list`: the versions of one file, newest first.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the kept versions of a file, newest first.")

        @OptionGroup var common: Common

        @Option(help: ArgumentHelp("The file's path relative to the root.", valueName: "path"))
        var path: String

        func run() async throws {
            let tree = try common.tree()
            let found = try VersionsCommand.versions(of: RelativePath(path), in: tree)
            for version in found {
                if common.output == .json {
                    Console.shared.out(
                        JSONLine.encode([
                            "type": "version", "path": path, "at": VersionName.stamp(version.time), "size": version.size,
                            "version_path": version.path.escaped,
                        ]))
                } else {
                    Console.shared.out("\(VersionName.stamp(version.time))  \(Format.bytes(version.size).padding(10))  \(version.path.escaped)")
                }
            }
            if found.isEmpty && common.output == .text { Console.shared.out("no versions of \(path) in \(common.root)/.ha-sync-versions") }
        }
    }

    /// `ha-sync versions restore`: brings a version back, keeping the current file as a version.
    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Bring a kept version back (atomically; the current file is kept as a version itself).")

        @OptionGroup var common: Common
        @OptionGroup var locking: Locking

        @Option(help: ArgumentHelp("The file's path relative to the root.", valueName: "path"))
        var path: String

        @Option(help: ArgumentHelp("Which version: its time as 'versions list' prints it (e.g. 20261202T101500Z).", valueName: "time"))
        var at: String

        @Option(help: ArgumentHelp("Restore to this path (relative to the root) instead of the original one.", valueName: "path"))
        var to: String?

        func run() async throws {
            let tree = try common.tree()
            let original = RelativePath(path)
            let target = to.map { RelativePath($0) } ?? original
            guard !target.isRoot, !target.isDescendant(of: VersionName.folderPath), target != VersionName.folderPath else {
                throw ValidationError("--to must name a file outside .ha-sync-versions")
            }
            let now = SystemWallClock().now
            let restored: RelativePath = try await locking.withLock(root: common.root) {
                guard let version = try VersionsCommand.versions(of: original, in: tree).first(where: { VersionName.stamp($0.time) == at }) else {
                    throw VersionsError("no version of \(path) at \(at); 'ha-sync versions list --root \(common.root) --path \(path)' shows them")
                }
                if let current = try tree.entry(at: target), current.kind != .directory {
                    // The file being replaced becomes a version itself.
                    _ = try VersionStore(settings: VersionSettings(runTime: now, rules: KeepRules(rule: .last(1))))
                        .keep(target, expected: current, on: tree, keepOriginal: true)
                }
                // Folders the target needs (a restore elsewhere, or a folder deleted since).
                var missing: [RelativePath] = []
                var folder = target.parent
                while !folder.isRoot, try tree.entry(at: folder) == nil {
                    missing.append(folder)
                    folder = folder.parent
                }
                for folder in missing.reversed() {
                    try tree.makeDirectory(folder, replacing: nil)
                    try tree.finishDirectory(folder, permissions: 0o755, modified: now)
                }
                let reader = try tree.openFile(version.path)
                _ = try tree.receiveFile(target, from: reader, options: CopyOptions(fsync: true), shouldStop: { false })
                return version.path
            }
            if common.output == .json {
                Console.shared.out(JSONLine.encode(["type": "restored", "path": target.escaped, "from": restored.escaped]))
            } else {
                Console.shared.out("restored \(target.escaped) from \(restored.escaped)")
            }
        }
    }

    /// `ha-sync versions prune`: applies the keep rules to the whole store.
    struct Prune: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Apply the keep rules to a side's whole version store.")

        @OptionGroup var common: Common
        @OptionGroup var locking: Locking

        @Option(help: ArgumentHelp("Keep rules, as for a sync.", valueName: "rules"))
        var keep: String = KeepRules.defaultText

        @Option(name: .customLong("keep-min"), help: ArgumentHelp("Always keep the newest N versions of each file.", valueName: "n"))
        var keepMin: Int = 1

        @Flag(name: .customLong("dry-run"), help: "Show what would be pruned; change nothing.")
        var dryRun = false

        func run() async throws {
            let rule: KeepRules.Rule
            do {
                rule = try KeepRules.parse(keep)
            } catch {
                throw ValidationError(error.message)
            }
            let tree = try common.tree()
            let settings = VersionSettings(runTime: SystemWallClock().now, rules: KeepRules(rule: rule, keepMin: keepMin))
            let results = try await locking.withLock(root: common.root) {
                VersionStore(settings: settings).prune(on: tree, side: nil, dryRun: dryRun, shouldStop: { false })
            }
            for result in results {
                if common.output == .json {
                    var object: [String: any Sendable] = [
                        "type": "prune", "path": result.path.escaped, "size": result.sizeBefore ?? 0, "dry_run": dryRun,
                        "status": result.status.rawValue,
                    ]
                    if let error = result.errorMessage { object["error"] = error }
                    Console.shared.out(JSONLine.encode(object))
                } else {
                    Console.shared.out(
                        "\(dryRun ? "would prune" : "pruned")  \(result.path.escaped)\(result.errorMessage.map { "  FAILED: \($0)" } ?? "")")
                }
            }
            if common.output == .text { Console.shared.out("\(dryRun ? "would prune" : "pruned") \(results.count) versions") }
            if results.contains(where: { $0.status == .failed }) { throw ExitCode(2) }
        }
    }

    /// The kept versions of `path` on `tree`, newest first.
    static func versions(of path: RelativePath, in tree: any SyncTree) throws -> [(path: RelativePath, time: Timestamp, size: Int64)] {
        let folder = VersionStore.versionFolder(of: path)
        let listing: DirectoryListing
        do {
            listing = try tree.list(folder)
        } catch let error as SyncTreeError where error.code == .notFound {
            return []
        }
        let stem = VersionName.stem(path.lastComponent)
        return listing.entries.compactMap { entry in
            guard entry.kind != .directory, let parsed = VersionName.parse(entry.name), parsed.stem == stem else { return nil }
            return (folder.appending(entry.name), parsed.time, entry.size)
        }.sorted { $0.time > $1.time }
    }
}

/// A versions command that cannot proceed, with a message for the user.
struct VersionsError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
