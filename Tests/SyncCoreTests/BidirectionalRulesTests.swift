import SyncCore
import Testing

/// Every row of the bidirectional table in `docs/comparison-rules.md`.
@Suite("Bidirectional rules")
struct BidirectionalRulesTests {
    static let t0 = Timestamp(seconds: 1_700_000_000)
    static let rules = BidirectionalRules(mtimeThresholdNanoseconds: 2_000_000_000)

    static func file(_ size: Int64 = 10, at offset: Int64 = 0, mode: UInt32 = 0o644) -> Entry {
        Entry(name: Array("x".utf8), kind: .file, size: size, modified: Timestamp(seconds: t0.seconds + offset), permissions: mode)
    }
    static func folder() -> Entry { Entry(name: Array("x".utf8), kind: .directory, modified: t0, permissions: 0o755) }
    static func link(_ target: String) -> Entry {
        Entry(
            name: Array("x".utf8), kind: .symlink, size: Int64(target.utf8.count), modified: t0, permissions: 0o777, symlinkTarget: Array(target.utf8)
        )
    }
    static func special() -> Entry { Entry(name: Array("x".utf8), kind: .other, modified: t0) }

    struct Row: Sendable, CustomTestStringConvertible {
        var name: String
        var archived: Entry?
        var a: Entry?
        var b: Entry?
        var expected: BidirectionalDecision
        var testDescription: String { name }
    }

    static let table: [Row] = [
        // Nothing changed.
        Row(name: "unchanged on both sides", archived: file(), a: file(), b: file(), expected: .inSync),
        Row(name: "gone everywhere but archived", archived: file(), a: nil, b: nil, expected: .forget),
        Row(name: "mtime within the threshold", archived: file(), a: file(at: 1), b: file(), expected: .inSync),
        // One side changed.
        Row(name: "new on A", archived: nil, a: file(), b: nil, expected: .copy(to: .b)),
        Row(name: "new on B", archived: nil, a: nil, b: file(), expected: .copy(to: .a)),
        Row(name: "changed on A, size differs", archived: file(10), a: file(20, at: 60), b: file(10), expected: .copy(to: .b)),
        Row(name: "changed on B, size differs", archived: file(10), a: file(10), b: file(20, at: 60), expected: .copy(to: .a)),
        Row(name: "changed on A, same size: hash first", archived: file(), a: file(at: 60), b: file(), expected: .compareThenCopy(to: .b)),
        Row(name: "restored on A to an older mtime", archived: file(), a: file(at: -86_400), b: file(), expected: .compareThenCopy(to: .b)),
        Row(name: "mode changed on B", archived: file(), a: file(), b: file(mode: 0o600), expected: .copy(to: .a)),
        Row(name: "symlink retargeted on A", archived: link("one"), a: link("two"), b: link("one"), expected: .copy(to: .b)),
        Row(name: "file became a link on B", archived: file(), a: file(), b: link("t"), expected: .copy(to: .a)),
        // Deletes.
        Row(name: "deleted on A, unchanged on B", archived: file(), a: nil, b: file(), expected: .delete(on: .b)),
        Row(name: "deleted on B, unchanged on A", archived: file(), a: file(), b: nil, expected: .delete(on: .a)),
        Row(name: "deleted on A, changed on B", archived: file(), a: nil, b: file(20, at: 60), expected: .copy(to: .a)),
        Row(name: "deleted on B, changed on A", archived: file(), a: file(at: 60), b: nil, expected: .copy(to: .b)),
        Row(name: "folder deleted on A", archived: folder(), a: nil, b: folder(), expected: .directoryDeleted(present: .b)),
        Row(name: "folder deleted on B", archived: folder(), a: folder(), b: nil, expected: .directoryDeleted(present: .a)),
        Row(name: "folder on A replaced an archived file, file gone on B", archived: file(), a: folder(), b: nil, expected: .copy(to: .b)),
        // Both changed.
        Row(name: "same size on both, A newer", archived: file(), a: file(at: 100), b: file(at: 50), expected: .compareBoth(newer: .a)),
        Row(name: "same size on both, equal mtimes", archived: file(), a: file(at: 100), b: file(at: 101), expected: .inSync),
        Row(name: "same size, no winner", archived: file(), a: file(at: 100, mode: 0o600), b: file(at: 101), expected: .compareBoth(newer: nil)),
        Row(name: "sizes differ, B newer", archived: file(), a: file(20, at: 50), b: file(30, at: 100), expected: .conflict(winner: .b, tie: false)),
        Row(name: "sizes differ, A newer", archived: file(), a: file(20, at: 100), b: file(30, at: 50), expected: .conflict(winner: .a, tie: false)),
        Row(name: "sizes differ, tie", archived: file(), a: file(20, at: 100), b: file(30, at: 101), expected: .conflict(winner: .a, tie: true)),
        Row(name: "links retargeted differently", archived: link("o"), a: link("a"), b: link("b"), expected: .conflict(winner: .a, tie: true)),
        Row(name: "a file and a link created", archived: nil, a: file(), b: link("t"), expected: .conflict(winner: .a, tie: true)),
        // First run (no archive entry).
        Row(name: "first run, identical", archived: nil, a: file(), b: file(), expected: .inSync),
        Row(name: "first run, same size, B newer", archived: nil, a: file(at: 0), b: file(at: 60), expected: .compareBoth(newer: .b)),
        Row(name: "first run, sizes differ", archived: nil, a: file(5, at: 0), b: file(6, at: 60), expected: .conflict(winner: .b, tie: false)),
        // Folders.
        Row(name: "folders on both", archived: folder(), a: folder(), b: folder(), expected: .bothDirectories),
        Row(name: "folders on both, first run", archived: nil, a: folder(), b: folder(), expected: .bothDirectories),
        Row(name: "new folder on B", archived: nil, a: nil, b: folder(), expected: .copy(to: .a)),
        Row(name: "folder on A, unchanged archived file on B", archived: file(), a: folder(), b: file(), expected: .copy(to: .b)),
        Row(name: "folder on A, changed file on B", archived: file(), a: folder(), b: file(20, at: 60), expected: .skip(.kindConflict)),
        Row(name: "folder on B, new file on A", archived: nil, a: file(), b: folder(), expected: .skip(.kindConflict)),
        Row(name: "folder kept on A, replaced by a file on B", archived: folder(), a: folder(), b: file(), expected: .skip(.kindConflict)),
        // Never synced.
        Row(name: "special file", archived: nil, a: special(), b: nil, expected: .skip(.unsupportedKind)),
    ]

    @Test(arguments: table)
    func row(_ row: Row) {
        #expect(Self.rules.decide(archived: row.archived, a: row.a, b: row.b) == row.expected)
    }

    @Test func conflictNamesKeepTheStemAndTheExtensionAndAreUnique() {
        let time = Timestamp(seconds: 1_796_206_500)  // 2026-12-02 10:15:00 UTC
        let name = ConflictName.make(for: Array("report.pdf".utf8), label: "hp", modified: time) { _ in false }
        #expect(String(decoding: name, as: UTF8.self) == "report.conflict-hp-20261202-101500.pdf")
        let taken = Set(["notes.conflict-a-20261202-101500", "notes.conflict-a-20261202-101500-2"])
        let second = ConflictName.make(for: Array("notes".utf8), label: "a", modified: time) { taken.contains(String(decoding: $0, as: UTF8.self)) }
        #expect(String(decoding: second, as: UTF8.self) == "notes.conflict-a-20261202-101500-3")
        let hidden = ConflictName.make(for: Array(".bashrc".utf8), label: "b", modified: time) { _ in false }
        #expect(String(decoding: hidden, as: UTF8.self) == ".bashrc.conflict-b-20261202-101500")
        let long = ConflictName.make(for: Array(repeating: UInt8(ascii: "n"), count: 250) + Array(".mkv".utf8), label: "a", modified: time) { _ in
            false
        }
        #expect(long.count <= 255 && long.suffix(4).elementsEqual(".mkv".utf8))
        let invalid = ConflictName.make(for: [0xFF, 0xFE, UInt8(ascii: "."), UInt8(ascii: "b")], label: "a", modified: time) { _ in false }
        #expect(invalid.starts(with: [0xFF, 0xFE]) && ConflictName.isConflictCopy(invalid))
    }

    @Test func threeWayMergeVisitsEveryNameOnceInByteOrder() {
        func entries(_ names: [String]) -> [Entry] { names.map { Entry(name: Array($0.utf8), kind: .file, modified: Self.t0) } }
        var seen: [String] = []
        ThreeWayMerge.merge(entries(["a", "c", "e"]), entries(["b", "c"]), entries(["a", "d", "e", "f"])) { a, b, archived in
            let name = String(decoding: (a ?? b ?? archived)!.name, as: UTF8.self)
            seen.append("\(name):\(a == nil ? "-" : "A")\(b == nil ? "-" : "B")\(archived == nil ? "-" : "O")")
        }
        #expect(seen == ["a:A-O", "b:-B-", "c:AB-", "d:--O", "e:A-O", "f:--O"])
    }
}
