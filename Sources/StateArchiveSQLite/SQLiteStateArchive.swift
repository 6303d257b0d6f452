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
    public static let schemaVersion = 2
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
        // One row per folder: its entries, sorted by name bytes, encoded in one blob
        // (``FolderRecord``). A folder is read in one row, and each write replaces one row,
        // which SQLite does atomically: after a crash every folder is old or new.
        _ = try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS folders (
                dir BLOB NOT NULL PRIMARY KEY, entries BLOB NOT NULL, files INTEGER NOT NULL
            ) WITHOUT ROWID
            """, [])
        for (key, value) in [("schema_version", String(schemaVersion)), ("root_a", roots.a), ("root_b", roots.b)] {
            _ = try await connection.query("INSERT OR REPLACE INTO archive_meta (key, value) VALUES (?, ?)", [.text(key), .text(value)])
        }
    }

    // MARK: StateArchive

    public func children(of directory: RelativePath) async throws -> [Entry] {
        try await load(Self.dirKey(directory))
    }

    private func cached(_ key: [UInt8], in folders: inout [[UInt8]: [Entry]]) async throws -> [Entry] {
        if let entries = folders[key] { return entries }
        let loaded = try await load(key)
        folders[key] = loaded
        return loaded
    }

    private func load(_ key: [UInt8]) async throws -> [Entry] {
        let rows = try await query("SELECT entries FROM folders WHERE dir = ?", [Self.blob(key)])
        guard let row = rows.first else { return [] }
        guard let blob = row.column("entries")?.blob, let entries = FolderRecord.decode(blob) else {
            throw ArchiveError("the state archive \(path) has a damaged record for '\(String(decoding: key.dropFirst(), as: UTF8.self))'")
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
        let rows = try await query("SELECT coalesce(sum(files), 0) AS files FROM folders", [])
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

    /// Writes a batch: each folder it touches is read once, changed in memory and written back
    /// as one statement. A subtree removal deletes its folders' rows at once (one statement), so
    /// later updates in the batch never see them again.
    private func write(_ batch: [ArchiveUpdate]) async throws {
        var folders: [[UInt8]: [Entry]] = [:]
        for update in batch {
            switch update {
            case .put(let target, var entry):
                let key = Self.dirKey(target.parent)
                entry.name = target.lastComponent
                var entries = try await cached(key, in: &folders)
                FolderRecord.upsert(entry, into: &entries)
                folders[key] = entries
            case .remove(let target):
                let key = Self.dirKey(target.parent)
                var entries = try await cached(key, in: &folders)
                FolderRecord.remove(target.lastComponent, from: &entries)
                folders[key] = entries
            case .removeTree(let target):
                if !target.isRoot {
                    let key = Self.dirKey(target.parent)
                    var entries = try await cached(key, in: &folders)
                    FolderRecord.remove(target.lastComponent, from: &entries)
                    folders[key] = entries
                }
                // The folder's own row and every row below it: keys between "key/" and "key0"
                // ('0' is the byte after '/').
                let key = Self.dirKey(target)
                for cached in folders.keys where cached == key || (cached.count > key.count && cached.starts(with: key + [0x2F])) {
                    folders[cached] = nil
                }
                _ = try await query(
                    "DELETE FROM folders WHERE dir = ? OR (dir >= ? AND dir < ?)",
                    [Self.blob(key), Self.blob(key + [0x2F]), Self.blob(key + [0x30])])
                folders[key] = []
            }
        }
        for (key, entries) in folders {
            if entries.isEmpty {
                _ = try await query("DELETE FROM folders WHERE dir = ?", [Self.blob(key)])
            } else {
                let files = entries.lazy.filter { $0.kind != .directory }.count
                _ = try await query(
                    "INSERT OR REPLACE INTO folders (dir, entries, files) VALUES (?, ?, ?)",
                    [Self.blob(key), .blob(FolderRecord.encode(entries)), .integer(files)])
            }
        }
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

    static func blob(_ bytes: [UInt8]) -> SQLiteData {
        var buffer = ByteBufferAllocator().buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        return .blob(buffer)
    }
}

/// A state archive that cannot be used, with a message for the user.
public struct ArchiveError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
