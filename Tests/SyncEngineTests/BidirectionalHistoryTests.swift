import Logging
import SyncCore
import SyncEngine
import SyncTrees
import Testing

/// Random histories of both sides between runs (create, edit, touch, restore an older version,
/// delete, rename as delete + create, folders removed), each followed by a run, checked
/// against the invariants of bidirectional mode:
/// - no version either side held at a sync point is lost, unless the other side deliberately
///   deleted or replaced it while this side left it as it was at the previous sync;
/// - after a run both sides hold the same paths and contents;
/// - a second run changes nothing.
@Suite("Bidirectional histories")
struct BidirectionalHistoryTests {
    /// File paths used by the histories; folders and files never share a name.
    static let paths = ["f0", "f1", "f2.txt", "d0/g0", "d0/g1.txt", "d1/e/h0", "d1/e/h1", "d1/k"]

    /// SplitMix64: a seeded generator, so a failing history can be replayed from its seed.
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    struct World {
        var a = InMemoryTree(name: "a")
        var b = InMemoryTree(name: "b")
        var archive = InMemoryStateArchive()
        var clock: Int64 = 1_700_000_000
        var counter = 0
        /// Every content either side ever held at a path, for restores.
        var history: [String: [(String, Int64)]] = [:]

        mutating func tick() -> Timestamp {
            clock += 10
            return Timestamp(seconds: clock)
        }

        func tree(_ side: Side) -> InMemoryTree { side == .a ? a : b }
    }

    @Test(arguments: 0..<40)
    func randomHistoriesLoseNothingAndConverge(seed: Int) async throws {
        var random = Generator(state: UInt64(seed) &* 7919 &+ 1)
        var world = World()
        for round in 0..<6 {
            let steps = Int.random(in: 1...6, using: &random)
            for _ in 0..<steps { mutate(&world, random: &random) }

            // What each side holds now, and which of it is new since the last sync.
            let archived = world.archive.snapshot
            var mustSurvive: [String] = []
            for side in [Side.a, .b] {
                let tree = world.tree(side)
                for path in tree.paths {
                    guard let node = tree.node(at: path.escaped), node.kind == .file else { continue }
                    let text = String(decoding: node.contents, as: UTF8.self)
                    let entry = node.entryForTest(name: path.lastComponent)
                    if let old = archived[path], !BidirectionalRules().differs(entry, old) { continue }  // held at the last sync
                    mustSurvive.append(text)
                }
            }

            let report = try await BidirectionalEngine(
                a: world.a, b: world.b, archive: world.archive, rules: BidirectionalRules(),
                configuration: SyncConfiguration(deleteGuard: DeleteGuard(maxDeletePercent: 100)), logger: Logger(label: "test")
            ).run()
            #expect(report.summary.failed == 0, "seed \(seed) round \(round)")

            let aContents = contents(world.a)
            let bContents = contents(world.b)
            #expect(aContents == bContents, "seed \(seed) round \(round): sides differ")
            let kept = Set(aContents.values)
            for text in mustSurvive {
                #expect(kept.contains(text), "seed \(seed) round \(round): lost '\(text)'")
            }
            let again = try await BidirectionalEngine(
                a: world.a, b: world.b, archive: world.archive, rules: BidirectionalRules(), configuration: SyncConfiguration(),
                logger: Logger(label: "test")
            ).run()
            #expect(again.summary.changes == 0 && again.summary.conflicts == 0, "seed \(seed) round \(round): second run not empty")
        }
    }

    /// Path → content (files) or a marker for folders and links.
    func contents(_ tree: InMemoryTree) -> [String: String] {
        var result: [String: String] = [:]
        for path in tree.paths {
            guard let node = tree.node(at: path.escaped) else { continue }
            result[path.escaped] = node.kind == .file ? String(decoding: node.contents, as: UTF8.self) : "<\(node.kind)>"
        }
        return result
    }

    func mutate(_ world: inout World, random: inout Generator) {
        let side: Side = Bool.random(using: &random) ? .a : .b
        let tree = world.tree(side)
        let path = Self.paths.randomElement(using: &random)!
        let existing = tree.node(at: path)
        switch Int.random(in: 0..<6, using: &random) {
        case 0, 1:  // create or edit
            world.counter += 1
            let text = "\(path)#\(world.counter)\(String(repeating: "x", count: Int.random(in: 0...3, using: &random)))"
            let time = world.tick()
            tree.setFile(path, text, modified: time)
            world.history[path, default: []].append((text, time.seconds))
        case 2:  // touch: new mtime, same bytes
            guard let existing, existing.kind == .file else { return }
            try? tree.setModificationTime(RelativePath(path), to: world.tick())
        case 3:  // restore an older version with its older mtime
            guard let old = world.history[path]?.randomElement(using: &random) else { return }
            tree.setFile(path, old.0, modified: Timestamp(seconds: old.1))
        case 4:  // delete, and the folder when it empties
            guard existing?.kind == .file else { return }
            try? tree.remove(RelativePath(path), kind: .file)
            var parent = RelativePath(path).parent
            while !parent.isRoot, Bool.random(using: &random), (try? tree.remove(parent, kind: .directory)) != nil {
                parent = parent.parent
            }
        default:  // rename: delete here, create elsewhere with the same bytes
            guard let existing, existing.kind == .file else { return }
            let target = Self.paths.randomElement(using: &random)!
            guard target != path, tree.node(at: target) == nil else { return }
            try? tree.remove(RelativePath(path), kind: .file)
            tree.setFile(target, String(decoding: existing.contents, as: UTF8.self), modified: existing.modified)
        }
    }
}

extension InMemoryTree.Node {
    func entryForTest(name: [UInt8]) -> Entry {
        Entry(name: name, kind: kind, size: Int64(contents.count), modified: modified, permissions: permissions, symlinkTarget: symlinkTarget)
    }
}
