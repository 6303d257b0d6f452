public import SyncCore

/// The entries of one directory, sorted by name, with what the walker set aside.
public struct DirectoryListing: Sendable {
    /// Entries sorted by name bytes, without `.`, `..` and the engine's temporary files.
    public var entries: [Entry]
    /// Names of the engine's temporary files found here (left by a killed run).
    public var temporaryFiles: [[UInt8]]
    /// Entries that exist but could not be examined.
    public var failures: [SyncTreeError]

    public init(entries: [Entry] = [], temporaryFiles: [[UInt8]] = [], failures: [SyncTreeError] = []) {
        self.entries = entries
        self.temporaryFiles = temporaryFiles
        self.failures = failures
    }
}
