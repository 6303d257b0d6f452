import SyncCore
import Testing

private let base = Timestamp(seconds: 1_700_000_000)

private func at(_ offsetNanoseconds: Int64) -> Timestamp {
    let total = base.totalNanoseconds + offsetNanoseconds
    return Timestamp(seconds: total / 1_000_000_000, nanoseconds: total % 1_000_000_000)
}

private let second: Int64 = 1_000_000_000

private func file(_ size: Int64 = 10, _ offset: Int64 = 0) -> Entry {
    Entry(name: Array("x".utf8), kind: .file, size: size, modified: at(offset))
}
private func directory(_ offset: Int64 = 0) -> Entry {
    Entry(name: Array("x".utf8), kind: .directory, modified: at(offset))
}
private func symlink(_ target: String, _ offset: Int64 = 0) -> Entry {
    Entry(name: Array("x".utf8), kind: .symlink, size: Int64(target.utf8.count), modified: at(offset), symlinkTarget: Array(target.utf8))
}
private func special(_ offset: Int64 = 0) -> Entry {
    Entry(name: Array("x".utf8), kind: .other, modified: at(offset))
}

/// One row of the decision table in docs/comparison-rules.md.
struct Row: Sendable, CustomTestStringConvertible {
    var name: String
    var source: Entry?
    var destination: Entry?
    var deleteMissing = false
    var threshold: Int64 = 2 * second
    var expected: Verdict
    var testDescription: String { name }
}

let rows: [Row] = [
    // Only on one side.
    Row(name: "1 file only on source", source: file(), destination: nil, expected: Verdict(.create)),
    Row(name: "2 directory only on source", source: directory(), destination: nil, expected: Verdict(.create, descend: .sourceOnly)),
    Row(name: "3 symlink only on source", source: symlink("t"), destination: nil, expected: Verdict(.create)),
    Row(name: "4 special file only on source", source: special(), destination: nil, expected: Verdict(.skip(.unsupportedKind))),
    Row(name: "5 file only on destination, keep", source: nil, destination: file(), expected: Verdict(.skip(.onlyOnDestination))),
    Row(name: "6 file only on destination, delete-missing", source: nil, destination: file(), deleteMissing: true, expected: Verdict(.delete)),
    Row(name: "7 directory only on destination, keep", source: nil, destination: directory(), expected: Verdict(.skip(.onlyOnDestination))),
    Row(
        name: "8 directory only on destination, delete-missing", source: nil, destination: directory(), deleteMissing: true,
        expected: Verdict(.delete, descend: .destinationOnly)),
    Row(
        name: "9 symlink only on destination, delete-missing", source: nil, destination: symlink("t"), deleteMissing: true, expected: Verdict(.delete)
    ),
    Row(
        name: "10 special file only on destination, delete-missing", source: nil, destination: special(), deleteMissing: true,
        expected: Verdict(.delete)),
    // File against file.
    Row(name: "11 same mtime, same size", source: file(10, 0), destination: file(10, 0), expected: Verdict(.skip(.inSync))),
    Row(name: "12 mtimes within threshold, same size", source: file(10, 3 * second / 2), destination: file(10, 0), expected: Verdict(.skip(.inSync))),
    Row(name: "13 mtime difference exactly the threshold", source: file(10, 2 * second), destination: file(10, 0), expected: Verdict(.skip(.inSync))),
    Row(name: "14 same mtime, different size", source: file(10, 0), destination: file(11, 0), expected: Verdict(.update(.sizeDiffers))),
    Row(
        name: "15 mtimes within threshold, different size", source: file(10, 0), destination: file(11, second),
        expected: Verdict(.update(.sizeDiffers))),
    Row(name: "16 source newer, same size", source: file(10, 2 * second + 1), destination: file(10, 0), expected: Verdict(.compareContent)),
    Row(name: "17 source newer, different size", source: file(10, 60 * second), destination: file(5, 0), expected: Verdict(.update(.sourceNewer))),
    Row(
        name: "18 destination newer, same size", source: file(10, 0), destination: file(10, 60 * second), expected: Verdict(.skip(.destinationNewer))),
    Row(
        name: "19 destination newer, different size", source: file(10, 0), destination: file(3, 60 * second),
        expected: Verdict(.skip(.destinationNewer))),
    Row(name: "20 threshold 0, source 1 ns newer", source: file(10, 1), destination: file(10, 0), threshold: 0, expected: Verdict(.compareContent)),
    // Directories and symlinks.
    Row(
        name: "21 directory on both sides", source: directory(0), destination: directory(99 * second),
        expected: Verdict(.skip(.bothDirectories), descend: .both)),
    Row(name: "22 symlinks with the same target", source: symlink("a", 60 * second), destination: symlink("a", 0), expected: Verdict(.skip(.inSync))),
    Row(
        name: "23 symlinks, different targets, source newer", source: symlink("a", 60 * second), destination: symlink("b", 0),
        expected: Verdict(.update(.symlinkTargetDiffers))),
    Row(
        name: "24 symlinks, different targets, same mtime", source: symlink("a"), destination: symlink("b"),
        expected: Verdict(.update(.symlinkTargetDiffers))),
    Row(
        name: "25 symlinks, different targets, destination newer", source: symlink("a", 0), destination: symlink("b", 60 * second),
        expected: Verdict(.skip(.destinationNewer))),
    // Kind changes.
    Row(
        name: "26 file replaces symlink, source newer", source: file(10, 60 * second), destination: symlink("b"),
        expected: Verdict(.update(.kindChanged))),
    Row(
        name: "27 file against symlink, destination newer", source: file(10, 0), destination: symlink("b", 60 * second),
        expected: Verdict(.skip(.destinationNewer))),
    Row(name: "28 symlink replaces file, same mtime", source: symlink("a"), destination: file(), expected: Verdict(.update(.kindChanged))),
    Row(
        name: "29 symlink against file, destination newer", source: symlink("a"), destination: file(10, 60 * second),
        expected: Verdict(.skip(.destinationNewer))),
    Row(
        name: "30 directory replaces file, source newer", source: directory(60 * second), destination: file(),
        expected: Verdict(.update(.kindChanged), descend: .sourceOnly)),
    Row(
        name: "31 directory replaces symlink, same mtime", source: directory(), destination: symlink("b"),
        expected: Verdict(.update(.kindChanged), descend: .sourceOnly)),
    Row(
        name: "32 directory against file, destination newer", source: directory(), destination: file(10, 60 * second),
        expected: Verdict(.skip(.destinationNewer))),
    Row(
        name: "33 file against directory", source: file(10, 60 * second), destination: directory(), deleteMissing: true,
        expected: Verdict(.skip(.kindConflict))),
    Row(name: "34 symlink against directory", source: symlink("a", 60 * second), destination: directory(), expected: Verdict(.skip(.kindConflict))),
    Row(name: "35 file against special file", source: file(10, 60 * second), destination: special(), expected: Verdict(.skip(.kindConflict))),
    Row(
        name: "36 special file against file", source: special(60 * second), destination: file(), deleteMissing: true,
        expected: Verdict(.skip(.unsupportedKind))),
]

@Suite("Comparison rules")
struct ComparisonRulesTests {
    @Test(arguments: rows)
    func decisionTable(_ row: Row) {
        let rules = ComparisonRules(mtimeThresholdNanoseconds: row.threshold, deleteMissing: row.deleteMissing)
        #expect(rules.decide(source: row.source, destination: row.destination) == row.expected)
    }

    @Test func rowsAreNumberedWithoutGaps() {
        let numbers = rows.map { Int($0.name.split(separator: " ")[0])! }
        #expect(numbers == Array(1...rows.count))
    }

    @Test func resolvingAContentComparison() {
        let rules = ComparisonRules()
        #expect(rules.resolveComparison(sameContent: true) == .setModificationTime)
        #expect(rules.resolveComparison(sameContent: false) == .update(.contentDiffers))
    }

    @Test func deleteMissingNeverAffectsPathsPresentOnTheSource() {
        let on = ComparisonRules(deleteMissing: true)
        let off = ComparisonRules(deleteMissing: false)
        for row in rows where row.source != nil {
            #expect(
                on.decide(source: row.source, destination: row.destination) == off.decide(source: row.source, destination: row.destination),
                "\(row.name)")
        }
    }

    @Test func actionsMapToAuditOperations() {
        #expect(Action.create.operation == .create)
        #expect(Action.update(.sourceNewer).operation == .update)
        #expect(Action.setModificationTime.operation == .update)
        #expect(Action.delete.operation == .delete)
        #expect(Action.skip(.inSync).operation == nil)
    }
}
