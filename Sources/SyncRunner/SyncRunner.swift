public import AuditLog
import Foundation
public import Logging
public import RunLock
import StateArchiveSQLite
public import SyncCore
public import SyncEngine
public import SyncTrees

/// One sync run as a library: take the pair's lock, start the audit trail, walk and apply,
/// report, flush, unlock. Everything it touches is injected, so tests drive it with trees,
/// locks, stores and clocks in memory and no process.
public struct SyncRunner<Source: SyncTree, Destination: SyncTree>: Sendable {
    /// What the run works with.
    public struct Parts: Sendable {
        public var lock: any RunLock
        /// Opens the audit store; a failure never stops the sync (the opslog waits for a later run).
        public var openStore: @Sendable () async throws -> any AuditStore
        /// Opens side A (the source); a failure fails the run with the error's message.
        public var openSource: @Sendable () throws -> Source
        /// Opens a destination (side B), given its path or peer address.
        public var openDestination: @Sendable (_ destination: String) throws -> Destination
        /// Opens a bidirectional pair's state archive for its two roots; `nil` means the SQLite
        /// archive at the configuration's path. A failure fails the run.
        public var openArchive: (@Sendable (_ roots: (a: String, b: String)) async throws -> any StateArchive)?

        public init(
            lock: any RunLock,
            openStore: @escaping @Sendable () async throws -> any AuditStore,
            openSource: @escaping @Sendable () throws -> Source,
            openDestination: @escaping @Sendable (_ destination: String) throws -> Destination,
            openArchive: (@Sendable (_ roots: (a: String, b: String)) async throws -> any StateArchive)? = nil
        ) {
            self.lock = lock
            self.openStore = openStore
            self.openSource = openSource
            self.openDestination = openDestination
            self.openArchive = openArchive
        }
    }

    public let configuration: RunConfiguration
    public let parts: Parts
    public let reporter: any RunReporter
    public let shutdown: RunShutdown
    public let progress: SyncProgress
    public let clock: any WallClock
    public let logger: Logger

    public init(
        configuration: RunConfiguration,
        parts: Parts,
        reporter: any RunReporter,
        shutdown: RunShutdown = RunShutdown(),
        progress: SyncProgress = SyncProgress(),
        clock: any WallClock = SystemWallClock(),
        logger: Logger
    ) {
        self.configuration = configuration
        self.parts = parts
        self.reporter = reporter
        self.shutdown = shutdown
        self.progress = progress
        self.clock = clock
        self.logger = logger
    }

    var stop: StopSignal { shutdown.stop }

    /// Runs once. Never throws: every failure becomes an exit status and a logged message.
    public func run() async -> RunOutcome {
        do {
            try FileManager.default.createDirectory(atPath: configuration.logDirectory, withIntermediateDirectories: true)
        } catch {
            return failed("cannot create the log directory \(configuration.logDirectory) (set --log-dir): \(Self.reason(error))")
        }
        let hold: any HeldLock
        do {
            switch try await acquireUnlessStopped() {
            case nil:
                return stoppedEarly("while taking the run lock")
            case .held(let holder)?:
                logger.notice("pair \(configuration.pair) is locked by another run (\(holder)); nothing to do")
                reporter.lockHeld(pair: configuration.pair, holder: holder)
                return RunOutcome(status: .success)
            case .acquired(let acquired)?:
                hold = acquired
            }
        } catch {
            return failed("\(error)")
        }
        let outcome = await runLocked(hold)
        await hold.release()
        return outcome
    }

    /// Takes the lock, unless a stop comes first; a lock won in that race is given back.
    private func acquireUnlessStopped() async throws -> LockAcquisition? {
        let lock = parts.lock
        return try await stop.unlessStopped(
            { try await lock.acquire() },
            discard: { acquisition in
                if case .acquired(let hold) = acquisition { await hold.release() }
            })
    }

    private func runLocked(_ hold: any HeldLock) async -> RunOutcome {
        guard configuration.isFanOut else {
            return await runDestination(configuration, fanOut: nil, hold: hold, reporter: reporter)
        }
        return await runFanOut(hold)
    }

    /// One destination's run: its iteration in the audit trail, its trees, its engine. Alone,
    /// it keeps the lock renewed itself; in a fan-out run the caller does (`fanOut` set).
    func runDestination(_ configuration: RunConfiguration, fanOut: FanOutMember?, hold: any HeldLock, reporter: any RunReporter) async
        -> RunOutcome
    {
        var iteration = IterationRecord(
            runID: UUID().uuidString.lowercased(), pair: configuration.pair, direction: configuration.direction,
            source: configuration.source, destination: configuration.destination, startedAt: clock.now, dryRun: configuration.dryRun)
        iteration.fanOutID = fanOut?.runID
        let progress = fanOut?.progress ?? self.progress
        let audit = await RunAudit.start(
            openStore: fanOut?.openStore ?? parts.openStore, logDirectory: configuration.logDirectory, iteration: iteration, stop: stop,
            progress: progress, flushEarlier: fanOut == nil, logger: logger)
        guard !stop.isStopped else {
            await audit.close()
            return stoppedEarly("while opening the audit store")
        }
        let outcome = await withTaskGroup(of: Void.self) { group in
            if let feed = audit.feed {
                group.addTask { [clock] in await feed.run(every: RunAudit.feedInterval, clock: clock) }
            }
            let outcome = await sync(
                configuration, audit: audit, hold: fanOut == nil ? hold : nil, fanOut: fanOut, progress: progress, reporter: reporter)
            // Ends the feed's wait; a store call it is in finishes first.
            audit.feed?.finish()
            group.cancelAll()
            return outcome
        }
        let auditStatus: IterationRecord.Status =
            switch outcome.report?.status {
            case .success: .success
            case .partialFailure: .partialFailure
            case .failed, nil: .failed
            }
        iteration.finish(status: auditStatus, summary: outcome.report?.summary ?? SyncSummary(), endedAt: clock.now, errorMessage: outcome.message)
        if !outcome.filters.isEmpty {
            iteration.filterFingerprint = outcome.filters.fingerprint
            iteration.filterRules = outcome.filters.rules.map { "\($0.text)  # \($0.origin)" }.joined(separator: "\n")
        }
        switch await audit.finish(iteration, retainDays: configuration.opslogRetainDays, clock: clock, stopped: stop.isStopped) {
        case .dryRunAlreadyCurrent(let since):
            reporter.dryRunAlreadyCurrent(since: since)
        case .recorded, .pending:
            break
        }
        await audit.close()
        return outcome
    }

    /// Opens the trees and runs the engine (beside the lock's heartbeat when `hold` is given).
    private func sync(
        _ configuration: RunConfiguration, audit: RunAudit, hold: (any HeldLock)?, fanOut: FanOutMember?, progress: SyncProgress,
        reporter: any RunReporter
    ) async -> RunOutcome {
        let source: Source
        let destination: Destination
        do {
            source = try fanOut?.source.get() ?? parts.openSource()
        } catch let error as SyncTreeError where error.code == .notFound && configuration.bidirectional {
            return refused("side A, \(configuration.source), does not exist (is it mounted?); nothing was changed on either side")
        } catch {
            return failed("source directory \(configuration.source) cannot be used: \(Self.reason(error))")
        }
        do {
            destination = try parts.openDestination(configuration.destination)
        } catch let error as SyncTreeError where error.code == .notFound && configuration.bidirectional {
            return refused(
                "side B, \(configuration.destination), does not exist (is it mounted?); nothing was changed on either side. "
                    + "Create it with mkdir, or pass --create-dest, if it really is new")
        } catch let error as SyncTreeError where error.code == .notFound {
            return failed(
                "destination directory \(configuration.destination) does not exist; ha-sync never creates a missing root on its own "
                    + "(it may be an unmounted volume): create it with mkdir, or pass --create-dest")
        } catch {
            return failed("destination directory \(configuration.destination) cannot be used: \(Self.reason(error))")
        }
        let observer = CompositeObserver(observers: [reporter.observer, audit.observer])
        var syncConfiguration = configuration.sync
        do {
            syncConfiguration.filters = try Self.filters(configuration.filterRules, source: source, destination: destination)
        } catch {
            return failed("\(error)")
        }
        if !syncConfiguration.filters.isEmpty {
            logger.info(
                "filters in effect",
                metadata: ["rules": "\(syncConfiguration.filters.rules.count)", "fingerprint": "\(syncConfiguration.filters.fingerprint)"])
        }
        if configuration.versionsEnabled {
            // Every version this run keeps is named with the run's time.
            syncConfiguration.versions = VersionSettings(runTime: clock.now, rules: configuration.keepRules)
        }
        if configuration.minAgeSeconds > 0 {
            syncConfiguration.minAgeCutoff = clock.now.adding(nanoseconds: -Int64((configuration.minAgeSeconds * 1e9).rounded()))
        }
        let runEngine: @Sendable () async throws -> SyncReport
        var archive: (any StateArchive)?
        if configuration.bidirectional {
            let opened: any StateArchive
            do {
                let roots = (configuration.source, configuration.destination)
                if let openArchive = parts.openArchive {
                    opened = try await openArchive(roots)
                } else {
                    opened = try await SQLiteStateArchive.open(path: configuration.resolvedArchivePath, roots: roots, logger: logger)
                }
            } catch {
                return failed("cannot use the state archive: \(error)")
            }
            archive = opened
            if let notice = opened.notice { logger.warning("\(notice)") }
            let engine = BidirectionalEngine(
                a: source, b: destination, archive: opened, rules: configuration.bidirectionalRules, configuration: syncConfiguration,
                labels: configuration.sideLabels, observer: observer, progress: progress, stopSignal: stop, logger: logger)
            runEngine = { try await engine.run() }
        } else if let fanOut {
            // The source's listings are read once and shared with the other destinations.
            let engine = SyncEngine(
                source: fanOut.listings.tree(source, consumer: fanOut.index), destination: destination, configuration: syncConfiguration,
                observer: observer, progress: progress, stopSignal: stop, logger: logger)
            runEngine = { try await engine.run() }
        } else {
            let engine = SyncEngine(
                source: source, destination: destination, configuration: syncConfiguration, observer: observer,
                progress: progress, stopSignal: stop, logger: logger)
            runEngine = { try await engine.run() }
        }
        logger.info(
            "\(configuration.dryRun ? "dry run" : "sync") started",
            metadata: [
                "src": "\(configuration.source)", "dest": "\(configuration.destination)", "workers": "\(syncConfiguration.workers)",
                "mode": "\(configuration.bidirectional ? "bidirectional" : "one-way")",
                "delete_missing": "\(configuration.deleteMissing || configuration.bidirectional)",
            ])

        let stop = self.stop
        let result: Result<SyncReport, any Error> = await withTaskGroup(of: Result<SyncReport, any Error>?.self) { group in
            if let hold {
                group.addTask {
                    // Renews a Lease; losing it stops every write at once.
                    await hold.maintain { reason in stop.stop(reason: "lost the run lock: \(reason)") }
                    return nil
                }
            }
            group.addTask {
                do {
                    return .success(try await runEngine())
                } catch {
                    return .failure(error)
                }
            }
            var outcome: Result<SyncReport, any Error> = .failure(CancellationError())
            while let next = await group.next() {
                if let next {
                    outcome = next
                    group.cancelAll()
                }
            }
            return outcome
        }
        await archive?.close()
        if fanOut == nil {
            progress.end()
            reporter.progressEnded()
        }

        switch result {
        case .failure(let error):
            logger.error("run failed: \(error)")
            reporter.runFailed("\(error)")
            return RunOutcome(status: .failed, message: "\(error)")
        case .success(let report):
            reporter.finished(report)
            var message = report.failureMessage
            if let message {
                logger.error("\(message)")
            } else if report.summary.failed > 0 {
                logger.warning("\(report.summary.failed) paths failed; the next run retries them")
                message = "\(report.summary.failed) paths failed; see the failed operations and the run's log"
            }
            if report.deletesWithheld > 0 {
                logger.warning("\(report.deletesWithheld) deletes withheld because part of the source could not be listed")
            }
            if report.summary.leftForLater > 0 {
                logger.notice("\(report.summary.leftForLater) files left for a later run (still being written, or waiting for what they announce)")
            }
            let status: ExitStatus =
                if report.interruption != nil {
                    shutdown.signalStatus ?? .failed
                } else if report.refusal != nil {
                    .refused
                } else {
                    report.status == .partialFailure ? .partialFailure : .success
                }
            var outcome = RunOutcome(status: status, report: report, message: message)
            outcome.filters = syncConfiguration.filters
            return outcome
        }
    }

    /// The command line's rules, then each side's `.ha-sync-ignore` (A's, then B's).
    static func filters(_ given: [FilterRule], source: some SyncTree, destination: some SyncTree) throws -> FilterRules {
        var rules = given
        for tree in [source as any SyncTree, destination as any SyncTree] {
            guard let text = try ignoreFile(in: tree) else { continue }
            rules += try FilterRules.parse(lines: text, origin: "\(tree.displayName)/\(FilterRules.ignoreFileName)")
        }
        return FilterRules(rules)
    }

    /// The text of a tree's ignore file, `nil` when it has none.
    static func ignoreFile(in tree: any SyncTree) throws -> String? {
        let path = RelativePath(FilterRules.ignoreFileName)
        let reader: any FileReader
        do {
            reader = try tree.openFile(path)
        } catch let error as SyncTreeError where error.code == .notFound {
            return nil
        }
        guard reader.attributes.size <= 1 << 20 else {
            throw SyncTreeError(code: .io, operation: "read", path: path, detail: "larger than 1 MiB; is it really an ignore file?")
        }
        var bytes: [UInt8] = []
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = try reader.read(into: buffer)
            if count == 0 { break }
            bytes += buffer[..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A bidirectional guard: the run refuses (exit status 3), as the delete guards do.
    private func refused(_ message: String) -> RunOutcome {
        logger.error("refusing to sync: \(message)")
        return RunOutcome(status: .refused, message: "refusing to sync: \(message)")
    }

    private func failed(_ message: String) -> RunOutcome {
        logger.error("\(message)")
        return RunOutcome(status: .failed, message: message)
    }

    private func stoppedEarly(_ phase: String) -> RunOutcome {
        let message = "stopped \(phase): \(stop.reason ?? "stop requested"); nothing was synced"
        logger.warning("\(message)")
        return RunOutcome(status: shutdown.signalStatus ?? .failed, message: message)
    }

    /// The part of an error a user needs: the system's words for an errno, else the error.
    static func reason(_ error: any Error) -> String {
        if let error = error as? SyncTreeError, let code = error.errno {
            return String(cString: strerror(code))
        }
        if let error = error as? CocoaError, let underlying = error.userInfo[NSUnderlyingErrorKey] as? POSIXError {
            return String(cString: strerror(underlying.code.rawValue))
        }
        return "\(error)"
    }
}
