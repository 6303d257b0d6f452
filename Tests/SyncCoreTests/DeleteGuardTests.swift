import SyncCore
import Testing

@Suite("Delete guard")
struct DeleteGuardTests {
    @Test func emptySourceWithNonEmptyDestinationIsRefused() {
        let verdict = DeleteGuard().check(sourceRootEntries: 0, destinationRootEntries: 3, plannedFileDeletes: 3, destinationFiles: 3)
        #expect(verdict == .refuseEmptySource(destinationEntries: 3))
        #expect(verdict.message?.contains("source directory is empty") == true)
    }

    @Test func emptySourceIsRefusedEvenWithMaxDelete100() {
        let verdict = DeleteGuard(maxDeletePercent: 100).check(
            sourceRootEntries: 0, destinationRootEntries: 1, plannedFileDeletes: 1, destinationFiles: 1)
        #expect(verdict == .refuseEmptySource(destinationEntries: 1))
    }

    @Test func bothEmptyIsFine() {
        #expect(DeleteGuard().check(sourceRootEntries: 0, destinationRootEntries: 0, plannedFileDeletes: 0, destinationFiles: 0) == .allow)
    }

    @Test(arguments: [
        (deletes: 50, files: 100, max: 50, allowed: true),
        (deletes: 51, files: 100, max: 50, allowed: false),
        (deletes: 1, files: 3, max: 33, allowed: false),
        (deletes: 1, files: 4, max: 25, allowed: true),
        (deletes: 1, files: 1, max: 0, allowed: false),
        (deletes: 0, files: 10, max: 0, allowed: true),
        (deletes: 100, files: 100, max: 100, allowed: true),
    ])
    func maxDeletePercent(deletes: Int, files: Int, max: Int, allowed: Bool) {
        let verdict = DeleteGuard(maxDeletePercent: max).check(
            sourceRootEntries: 1, destinationRootEntries: 1, plannedFileDeletes: deletes, destinationFiles: files)
        #expect((verdict == .allow) == allowed)
        if !allowed {
            #expect(verdict.message?.contains("--max-delete") == true)
            #expect(verdict.message?.contains("\(deletes) of \(files)") == true)
        }
    }
}

@Suite("Directory merge and summary")
struct DirectoryMergeTests {
    private func entries(_ names: [String]) -> [Entry] {
        var list = names.map { Entry(name: Array($0.utf8), kind: .file, modified: Timestamp(seconds: 0)) }
        DirectoryMerge.sort(&list)
        return list
    }

    @Test func mergesByNameBytes() {
        var seen: [(String?, String?)] = []
        DirectoryMerge.merge(source: entries(["b", "a", "d", "\u{e9}"]), destination: entries(["c", "a", "z", "B"])) { s, d in
            seen.append((s.map { String(decoding: $0.name, as: UTF8.self) }, d.map { String(decoding: $0.name, as: UTF8.self) }))
        }
        let expected: [(String?, String?)] = [(nil, "B"), ("a", "a"), ("b", nil), (nil, "c"), ("d", nil), (nil, "z"), ("\u{e9}", nil)]
        #expect(seen.count == expected.count)
        for (lhs, rhs) in zip(seen, expected) {
            #expect(lhs.0 == rhs.0 && lhs.1 == rhs.1)
        }
    }

    @Test func summaryCountsEachOutcome() {
        var summary = SyncSummary()
        let now = Timestamp(seconds: 1)
        summary.record(OperationResult(path: RelativePath("a"), action: .create, kind: .file, startedAt: now, endedAt: now, bytesTransferred: 10))
        summary.record(OperationResult(path: RelativePath("b"), action: .setModificationTime, kind: .file, startedAt: now, endedAt: now))
        summary.record(
            OperationResult(path: RelativePath("c"), action: .update(.sourceNewer), kind: .file, startedAt: now, endedAt: now, bytesTransferred: 5))
        summary.record(OperationResult(path: RelativePath("d"), action: .delete, kind: .file, startedAt: now, endedAt: now))
        summary.record(
            OperationResult(
                path: RelativePath("e"), action: .create, kind: .file, startedAt: now, endedAt: now, status: .failed, bytesTransferred: 99))
        summary.recordSkip()
        #expect(summary.created == 1)
        #expect(summary.updated == 2)
        #expect(summary.metadataOnly == 1)
        #expect(summary.deleted == 1)
        #expect(summary.failed == 1)
        #expect(summary.skipped == 1)
        #expect(summary.bytesTransferred == 15)
        #expect(summary.changes == 4)
    }
}
