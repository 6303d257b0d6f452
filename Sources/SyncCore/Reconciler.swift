/// One side of a pair. In one-way mode A is the source and B the destination; in a
/// bidirectional mode either side can be changed.
public enum Side: String, Sendable, Hashable, Codable, CaseIterable {
    case a
    case b

    /// The side an operation on this side reads from.
    public var other: Side { self == .a ? .b : .a }

    /// How an operation that changed this side is labelled in the audit trail: the way the
    /// change travelled (`a-to-b` changed B).
    public var travel: String { self == .b ? "a-to-b" : "b-to-a" }
}

/// What a one-way reconciler sees of one path: each side's entry.
public struct PathState: Sendable, Hashable {
    public var a: Entry?
    public var b: Entry?

    public init(a: Entry?, b: Entry?) {
        self.a = a
        self.b = b
    }
}

/// The decision step of the one-way engine, as a pure function of what each side holds at
/// one path. The engine walks, merges and applies; a reconciler only decides.
///
/// One-way mode is ``ComparisonRules`` ("newest mtime wins", A to B). Bidirectional mode has
/// its own rules (``BidirectionalRules``), which read a third entry, the archive's, and can
/// turn one path into several operations on both sides (a conflict), so it has its own engine.
public protocol Reconciler: Sendable {
    /// Decides what to do with one path.
    func reconcile(_ state: PathState) -> Verdict

    /// Resolves ``Action/compareContent`` once both sides are hashed.
    func resolveComparison(sameContent: Bool) -> Action

    /// Whether this mode may delete anything, so the delete guards must survey the trees first.
    var mayDelete: Bool { get }
}

extension ComparisonRules: Reconciler {
    public func reconcile(_ state: PathState) -> Verdict {
        decide(source: state.a, destination: state.b)
    }

    public var mayDelete: Bool { deleteMissing }
}
