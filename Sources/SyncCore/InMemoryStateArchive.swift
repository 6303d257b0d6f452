import Synchronization

/// A state archive in memory, for tests of the rules, the engine and the runner.
public final class InMemoryStateArchive: StateArchive {
    private let entries = Mutex<[RelativePath: Entry]>([:])
    public let isFresh: Bool

    /// An archive holding `entries` (keyed by path); fresh when `fresh`.
    public init(_ initial: [RelativePath: Entry] = [:], fresh: Bool? = nil) {
        entries.withLock { $0 = initial }
        isFresh = fresh ?? initial.isEmpty
    }

    public func children(of directory: RelativePath) async throws -> [Entry] {
        var found = entries.withLock { all in all.filter { !$0.key.isRoot && $0.key.parent == directory }.map(\.value) }
        DirectoryMerge.sort(&found)
        return found
    }

    public func record(_ updates: [ArchiveUpdate]) async throws {
        entries.withLock { all in
            for update in updates {
                switch update {
                case .put(let path, var entry):
                    entry.name = path.lastComponent
                    all[path] = entry
                case .remove(let path):
                    all[path] = nil
                case .removeTree(let path):
                    all = all.filter { $0.key != path && !$0.key.isDescendant(of: path) }
                }
            }
        }
    }

    public func flush() async throws {}

    public func fileCount() async throws -> Int {
        entries.withLock { $0.values.lazy.filter { $0.kind != .directory }.count }
    }

    public func close() async {}

    /// Everything recorded, by path (tests).
    public var snapshot: [RelativePath: Entry] {
        entries.withLock { $0 }
    }
}
