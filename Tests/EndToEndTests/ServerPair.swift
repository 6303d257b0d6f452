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

/// A suite that works on a ``ServerPair``: its folders and times, by their short names.
protocol ServerPairSuite {
    var pair: ServerPair { get }
}

extension ServerPairSuite {
    var tree: TemporaryTree { pair.tree }
    var a: String { pair.a }
    var b: String { pair.b }
    var logs: String { pair.logs }
    var t0: Timestamp { pair.t0 }
    func time(_ offset: Int64) -> Timestamp { pair.time(offset) }
}
