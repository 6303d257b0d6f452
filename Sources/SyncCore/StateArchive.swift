/// One change to a state archive, recorded once the sides really hold it.
public enum ArchiveUpdate: Sendable, Hashable {
    /// Both sides hold `entry` at `path`.
    case put(RelativePath, Entry)
    /// Neither side holds anything at `path` any more.
    case remove(RelativePath)
    /// Neither side holds `path` or anything below it.
    case removeTree(RelativePath)
}

/// The state of a pair after its last successful sync, path by path: what a bidirectional run
/// compares each side with, so it can tell "deleted here" from "created there".
///
/// Read a directory at a time, in name order, beside the two listings, so memory never holds
/// the whole tree. Updates may be applied in any grouping: each one is about one path, and any
/// prefix of them leaves a usable archive (each path old or new), so an interrupted run is
/// followed by a run that sees what was really synced.
public protocol StateArchive: Sendable {
    /// Entries recorded directly inside `directory`, sorted by name bytes.
    func children(of directory: RelativePath) async throws -> [Entry]

    /// Records updates. They may be buffered; ``flush()`` makes them durable.
    func record(_ updates: [ArchiveUpdate]) async throws

    /// Makes every recorded update durable.
    func flush() async throws

    /// Files and symlinks recorded (the delete guards' measure of a side).
    func fileCount() async throws -> Int

    /// Whether this is the archive of an earlier sync, or a fresh one (a first run).
    var isFresh: Bool { get }

    /// Flushes and closes; safe to call more than once.
    func close() async

    /// Set when an existing archive could not be used and this run starts afresh, saying why.
    var notice: String? { get }
}

extension StateArchive {
    public var notice: String? { nil }
}
