import SyncCore
import SyncTrees

/// Tracks when all the work below a directory is done, so its permissions and mtime can be
/// set after its content (writing into a directory changes its mtime).
///
/// Pure bookkeeping: the driver tells it what it spawned and what finished, and it answers
/// which directories are complete.
struct DirectoryTracker {
    struct Node {
        var parent: Int?
        var path: RelativePath
        /// Unfinished pieces of work: its own listing, its apply batches, its subdirectories.
        var pending: Int
        /// The source's permissions and mtime, once the directory's content was changed.
        var finish: (permissions: UInt32, modified: Timestamp)?
        var sourceEntry: Entry?
    }

    private var nodes: [Int: Node] = [:]
    private var nextID = 0

    /// Registers a directory about to be listed; returns its id.
    mutating func add(path: RelativePath, parent: Int?, sourceEntry: Entry?) -> Int {
        let id = nextID
        nextID += 1
        nodes[id] = Node(parent: parent, path: path, pending: 1, finish: nil, sourceEntry: sourceEntry)
        if let parent { nodes[parent]?.pending += 1 }
        return id
    }

    /// Adds `count` pieces of work (apply batches) to a directory.
    mutating func addWork(_ id: Int, count: Int) {
        nodes[id]?.pending += count
    }

    /// Marks a directory's content as changed, so it gets the source's mtime when complete.
    mutating func markChanged(_ id: Int) {
        guard let entry = nodes[id]?.sourceEntry else { return }
        nodes[id]?.finish = (entry.permissions, entry.modified)
    }

    /// One piece of work of `id` finished. Returns the directories that became complete and
    /// need their attributes set, innermost first.
    mutating func finishWork(_ id: Int) -> [FinishedDirectory] {
        var completed: [FinishedDirectory] = []
        var current: Int? = id
        while let nodeID = current, var node = nodes[nodeID] {
            node.pending -= 1
            guard node.pending == 0 else {
                nodes[nodeID] = node
                break
            }
            nodes[nodeID] = nil
            if let finish = node.finish {
                completed.append(FinishedDirectory(path: node.path, permissions: finish.permissions, modified: finish.modified))
            }
            current = node.parent
        }
        return completed
    }

    var isEmpty: Bool { nodes.isEmpty }
}
