public import SyncCore

/// What differs between a pair's two sides, read from a dry run's plan: the compare view.
///
/// A dry run lists every operation the next run would carry out; each says which side it
/// would change, so it tells where a path is now. Side A is `--src` (the first of
/// `--side-names`), side B is `--dest`.
public enum PairComparison {
    public enum Kind: String, CaseIterable, Sendable {
        case onlyA = "only_a"
        case onlyB = "only_b"
        case different
        case conflict
    }

    /// Where a planned operation says the path differs; `nil` for the version store's own
    /// bookkeeping. `direction` is `a-to-b` or `b-to-a` for bidirectional runs, `nil` for
    /// one-way runs (which always change side B).
    public static func kind(of operation: Operation, direction: String?, conflict: Bool) -> Kind? {
        if conflict { return .conflict }
        let changesB = direction != "b-to-a"
        switch operation {
        case .create: return changesB ? .onlyA : .onlyB
        case .delete: return changesB ? .onlyB : .onlyA
        case .update: return .different
        case .version, .prune: return nil
        }
    }
}
