import SyncCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The folder of the last file written, held open for the next one: a batch's files share a
/// folder, and opening it again for each (a path lookup below the root, then a close) is two
/// system calls per small file. Used by one thread; closes the folder when released.
public final class ParentFolders {
    private var path: RelativePath?
    private var tree: LocalTree?
    private var descriptor: Int32 = -1

    public init() {}

    deinit { release() }

    /// The open folder `path` of `tree`, opened with `open` unless it is the one held.
    func descriptor(of path: RelativePath, in tree: LocalTree, open: () throws -> Int32) throws -> Int32 {
        if descriptor >= 0 && self.path == path && self.tree === tree { return descriptor }
        release()
        descriptor = try open()
        self.path = path
        self.tree = tree
        return descriptor
    }

    /// Closes the folder held, if any.
    public func release() {
        if descriptor >= 0 { close(descriptor) }
        descriptor = -1
        path = nil
        tree = nil
    }
}
