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

/// What a reconciler sees of one path: each side's entry, and, in a mode that keeps a state
/// archive, the entry recorded there at the last successful sync.
public struct PathState: Sendable, Hashable {
    public var a: Entry?
    public var b: Entry?
    /// The state at the last sync; always `nil` in one-way mode.
    public var archived: Entry?

    public init(a: Entry?, b: Entry?, archived: Entry? = nil) {
        self.a = a
        self.b = b
        self.archived = archived
    }
}

/// The decision step of a sync mode, as a pure function of what each side (and the archive)
/// holds at one path. The engine walks, merges and applies; a reconciler only decides.
///
/// One-way mode is ``ComparisonRules`` ("newest mtime wins", A to B). A bidirectional mode
/// reads ``PathState/archived`` too and returns verdicts whose ``Verdict/side`` is either side.
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
