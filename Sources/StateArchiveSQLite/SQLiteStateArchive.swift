import Foundation
public import Logging
import NIOCore
import SQLiteNIO
public import SyncCore

/// The state archive of one pair in an SQLite file (by default `<log-dir>/state/<pair>.db`).
///
/// The file sits on the shared log volume, which is NFS in the cluster. SQLite is safe there
/// used this way: one writer at a time (the pair's lock guarantees it), the rollback journal
/// (WAL needs shared memory that NFS cannot give), and full syncs. Every update is one SQL
/// statement about whole paths, so a `kill -9` at any moment leaves each path old or new.
///
/// A file that cannot be opened, fails SQLite's check, or belongs to other folders is moved
/// aside and the run treated as a first run (the union of both sides: nothing is deleted);
/// ``notice`` says so.
public actor SQLiteStateArchive: StateArchive {
    public static let schemaVersion = 1
    /// Updates buffered before they are written; also written at least every second.
    static let bufferLimit = 500

    public let path: String
    public nonisolated let isFresh: Bool
    /// Set when an existing archive could not be used, with what happened to it.
    public nonisolated let notice: String?
    private let connection: SQLiteConnection
    private var pending: [ArchiveUpdate] = []
    private var lastFlush = ContinuousClock.now
    private var closed = false

    private init(path: String, connection: SQLiteConnection, isFresh: Bool, notice: String?) {
        self.path = path
        self.connection = connection
        self.isFresh = isFresh
        self.notice = notice
    }

    /// Opens (or creates) the archive at `path` for the two roots of a pair.
    public static func open(path: String, roots: (a: String, b: String), logger: Logger) async throws -> SQLiteStateArchive {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        var notice: String?
        if FileManager.default.fileExists(atPath: path) {
            switch await check(path: path, roots: roots, logger: logger) {
            case .usable(let connection):
                return SQLiteStateArchive(path: path, connection: connection, isFresh: false, notice: nil)
            case .unusable(let reason):
                var aside = path + ".unusable-\(Int(Date().timeIntervalSince1970))"
                var suffix = 2
                while FileManager.default.fileExists(atPath: aside) {
                    aside = path + ".unusable-\(Int(Date().timeIntervalSince1970))-\(suffix)"
                    suffix += 1
                }
                try? FileManager.default.removeItem(atPath: path + "-journal")
                do {
                    try FileManager.default.moveItem(atPath: path, toPath: aside)
                } catch {
                    throw ArchiveError("the state archive \(path) \(reason) and cannot be moved aside: \(error.localizedDescription)")
                }
                notice = "the state archive \(path) \(reason); moved it to \(aside) and treating this run as a first run (nothing is deleted)"
            }
        }
        let connection = try await openConnection(path: path, logger: logger)
        do {
            try await create(connection, roots: roots)
        } catch {
            try? await connection.close()
            throw ArchiveError("cannot create the state archive \(path): \(describe(error))")
        }
        return SQLiteStateArchive(path: path, connection: connection, isFresh: true, notice: notice)
    }

    private enum Check {
        case usable(SQLiteConnection)
        case unusable(String)
    }

    private static func check(path: String, roots: (a: String, b: String), logger: Logger) async -> Check {
        let connection: SQLiteConnection
        do {
            connection = try await openConnection(path: path, logger: logger)
        } catch {
            return .unusable("cannot be opened (\(describe(error)))")
        }
        do {
            let verdict = try await connection.query("PRAGMA quick_check", []).first?.column("quick_check")?.string
            guard verdict == "ok" else {
                try? await connection.close()
                return .unusable("is corrupt (\(verdict ?? "no answer"))")
            }
            let meta = try await connection.query("SELECT key, value FROM archive_meta", [])
            var values: [String: String] = [:]
            for row in meta { values[row.column("key")?.string ?? ""] = row.column("value")?.string }
            guard values["schema_version"] == String(schemaVersion) else {
                try? await connection.close()
                return .unusable("has schema version \(values["schema_version"] ?? "none"), not \(schemaVersion)")
            }
            guard values["root_a"] == roots.a, values["root_b"] == roots.b else {
                try? await connection.close()
                return .unusable(
                    "belongs to other folders (\(values["root_a"] ?? "?") and \(values["root_b"] ?? "?"))")
            }
            return .usable(connection)
        } catch {
            try? await connection.close()
            return .unusable("cannot be read (\(describe(error)))")
        }
    }

    private static func openConnection(path: String, logger: Logger) async throws -> SQLiteConnection {
        let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        do {
            // The rollback journal: WAL's shared-memory index does not work over NFS.
            _ = try await connection.query("PRAGMA journal_mode = DELETE", [])
            _ = try await connection.query("PRAGMA synchronous = FULL", [])
            _ = try await connection.query("PRAGMA busy_timeout = 15000", [])
            // A small page cache: memory stays flat however large the tree.
            _ = try await connection.query("PRAGMA cache_size = -4096", [])
        } catch {
            try? await connection.close()
            throw error
        }
        return connection
    }

    private static func create(_ connection: SQLiteConnection, roots: (a: String, b: String)) async throws {
        _ = try await connection.query("CREATE TABLE IF NOT EXISTS archive_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)", [])
        // One row per path, keyed by (parent folder, name) as bytes: a folder's rows come back
        // in the byte order the listings are merged in.
        _ = try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS entries (
                dir BLOB NOT NULL, name BLOB NOT NULL, kind INTEGER NOT NULL, size INTEGER NOT NULL,
                mtime_ns INTEGER NOT NULL, mode INTEGER NOT NULL, target BLOB,
                PRIMARY KEY (dir, name)
            ) WITHOUT ROWID
            """, [])
        for (key, value) in [("schema_version", String(schemaVersion)), ("root_a", roots.a), ("root_b", roots.b)] {
            _ = try await connection.query("INSERT OR REPLACE INTO archive_meta (key, value) VALUES (?, ?)", [.text(key), .text(value)])
        }
    }

    // MARK: StateArchive

    public func children(of directory: RelativePath) async throws -> [Entry] {
        let rows = try await query(
            "SELECT name, kind, size, mtime_ns, mode, target FROM entries WHERE dir = ? ORDER BY name", [Self.blob(Self.dirKey(directory))])
        var entries: [Entry] = []
        entries.reserveCapacity(rows.count)
        for row in rows {
            guard let name = row.column("name")?.blob, let kindCode = row.column("kind")?.integer,
                let size = row.column("size")?.integer, let mtime = row.column("mtime_ns")?.integer,
                let mode = row.column("mode")?.integer
            else { throw ArchiveError("the state archive \(path) has a damaged row in '\(directory)'") }
            let target = row.column("target")?.blob
            entries.append(
                Entry(
                    name: Array(buffer: name), kind: Self.kind(kindCode), size: Int64(size),
                    modified: Self.timestamp(Int64(mtime)), permissions: UInt32(truncatingIfNeeded: mode),
                    symlinkTarget: target.map { Array(buffer: $0) }))
        }
        return entries
    }

    public func record(_ updates: [ArchiveUpdate]) async throws {
        pending.append(contentsOf: updates)
        if pending.count >= Self.bufferLimit || ContinuousClock.now - lastFlush > .seconds(1) {
            try await flush()
        }
    }

    public func flush() async throws {
        lastFlush = ContinuousClock.now
        while !pending.isEmpty {
            let batch = pending
            pending = []
            try await write(batch)
        }
    }

    public func fileCount() async throws -> Int {
        let rows = try await query("SELECT count(*) AS files FROM entries WHERE kind != 2", [])
        return rows.first?.column("files")?.integer ?? 0
    }

    public func close() async {
        guard !closed else { return }
        closed = true
        do {
            try await flush()
        } catch {
            // The run reports archive failures as they happen; what is lost here is only the
            // latest updates, which the next run re-derives (as changes on both sides, settled
            // by content).
        }
        let closing: EventLoopFuture<Void> = connection.close()
        try? await closing.get()
    }

    // MARK: Writing

    /// Writes a batch as few statements, each atomic on its own: puts as one multi-row upsert,
    /// removals as one delete, and each subtree removal as one delete.
    private func write(_ batch: [ArchiveUpdate]) async throws {
        var puts: [(RelativePath, Entry)] = []
        var removes: [RelativePath] = []
        // Updates of one path must keep their order: flush what came before a subtree removal.
        for update in batch {
            switch update {
            case .put(let path, let entry):
                puts.append((path, entry))
            case .remove(let path):
                removes.append(path)
            case .removeTree(let path):
                try await writePuts(&puts)
                try await writeRemoves(&removes)
                try await removeTree(path)
            }
        }
        try await writeRemoves(&removes)
        try await writePuts(&puts)
    }

    private func writePuts(_ puts: inout [(RelativePath, Entry)]) async throws {
        // 7 parameters per row: 100 rows stay far below SQLite's parameter limit.
        for start in stride(from: 0, to: puts.count, by: 100) {
            let rows = puts[start..<min(start + 100, puts.count)]
            var binds: [SQLiteData] = []
            binds.reserveCapacity(rows.count * 7)
            for (path, entry) in rows {
                binds += [
                    Self.blob(Self.dirKey(path.parent)), Self.blob(path.lastComponent), .integer(Self.code(entry.kind)), .integer(Int(entry.size)),
                    .integer(Int(entry.modified.totalNanoseconds)), .integer(Int(entry.permissions)),
                    entry.symlinkTarget.map { Self.blob($0) } ?? .null,
                ]
            }
            let values = Array(repeating: "(?, ?, ?, ?, ?, ?, ?)", count: rows.count).joined(separator: ", ")
            _ = try await query("INSERT OR REPLACE INTO entries (dir, name, kind, size, mtime_ns, mode, target) VALUES \(values)", binds)
        }
        puts = []
    }

    private func writeRemoves(_ removes: inout [RelativePath]) async throws {
        for start in stride(from: 0, to: removes.count, by: 200) {
            let rows = removes[start..<min(start + 200, removes.count)]
            let binds = rows.flatMap { [Self.blob(Self.dirKey($0.parent)), Self.blob($0.lastComponent)] }
            let values = Array(repeating: "(?, ?)", count: rows.count).joined(separator: ", ")
            _ = try await query("DELETE FROM entries WHERE (dir, name) IN (VALUES \(values))", binds)
        }
        removes = []
    }

    private func removeTree(_ path: RelativePath) async throws {
        // The row itself, its children (dir = path) and everything deeper (dir starts with
        // "path/": between "path/" and "path0", '0' being the byte after '/').
        let key = Self.dirKey(path)
        let below = key + [UInt8(ascii: "/")]
        let after = key + [UInt8(ascii: "0")]
        if path.isRoot {
            _ = try await query("DELETE FROM entries", [])
            return
        }
        _ = try await query(
            "DELETE FROM entries WHERE (dir = ? AND name = ?) OR dir = ? OR (dir >= ? AND dir < ?)",
            [Self.blob(Self.dirKey(path.parent)), Self.blob(path.lastComponent), Self.blob(key), Self.blob(below), Self.blob(after)])
    }

    // MARK: Helpers

    private func query(_ sql: String, _ binds: [SQLiteData]) async throws -> [SQLiteRow] {
        do {
            return try await connection.query(sql, binds)
        } catch {
            throw ArchiveError("the state archive \(path) failed: \(Self.describe(error))")
        }
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? SQLiteError { return error.message }
        return "\(error)"
    }

    /// A folder's key: its path after a `/`, so the root's key is not an empty blob (which
    /// SQLite would bind as NULL) and keys still sort and nest by bytes.
    static func dirKey(_ directory: RelativePath) -> [UInt8] {
        [UInt8(ascii: "/")] + directory.bytes
    }

    static func timestamp(_ nanoseconds: Int64) -> Timestamp {
        let seconds = nanoseconds >= 0 ? nanoseconds / 1_000_000_000 : (nanoseconds - 999_999_999) / 1_000_000_000
        return Timestamp(seconds: seconds, nanoseconds: nanoseconds - seconds * 1_000_000_000)
    }

    static func blob(_ bytes: [UInt8]) -> SQLiteData {
        var buffer = ByteBufferAllocator().buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        return .blob(buffer)
    }

    static func code(_ kind: EntryKind) -> Int {
        switch kind {
        case .file: 1
        case .directory: 2
        case .symlink: 3
        case .other: 4
        }
    }

    static func kind(_ code: Int) -> EntryKind {
        switch code {
        case 1: .file
        case 2: .directory
        case 3: .symlink
        default: .other
        }
    }
}

/// A state archive that cannot be used, with a message for the user.
public struct ArchiveError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
