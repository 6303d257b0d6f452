import SyncCore
import SyncTestSupport

/// Both servers' folders of one pair in a scratch directory (dell is side A, hp side B), and
/// the log folder the runs share.
struct ServerPair {
    let tree: TemporaryTree
    let a: String
    let b: String
    let logs: String
    /// A fixed time for what the tests write, so runs compare as the tests intend.
    let t0 = Timestamp(seconds: 1_790_000_000)

    init(_ name: String) throws {
        tree = try TemporaryTree(name)
        a = try tree.directory("dell")
        b = try tree.directory("hp")
        logs = tree.root + "/logs"
    }

    func time(_ offset: Int64) -> Timestamp { Timestamp(seconds: t0.seconds + offset) }
}
