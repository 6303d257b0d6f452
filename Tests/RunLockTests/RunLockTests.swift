import Foundation
import RunLock
import SyncTestSupport
import Testing

@Suite("Run locks")
struct RunLockTests {
    private func scratch() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ha-sync-lock-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func aSecondHolderIsToldWhoHoldsTheLock() async throws {
        let directory = try scratch()
        let first = FileRunLock(directory: directory, pair: "media", holderDescription: "direction dell-to-hp")
        let second = FileRunLock(directory: directory, pair: "media", holderDescription: "direction hp-to-dell")
        guard case .acquired(let hold) = try await first.acquire() else {
            Issue.record("the first acquire must succeed")
            return
        }
        guard case .held(let holder) = try await second.acquire() else {
            Issue.record("the second acquire must see the lock held")
            return
        }
        #expect(holder == "pid \(getpid()), direction dell-to-hp")
        await hold.release()
        await hold.release()  // harmless
        // At once, although other tests in this process start child processes: a child shares
        // the lock between its fork and its exec, and the release unlocks for it too.
        guard case .acquired(let again) = try await second.acquire() else {
            Issue.record("after release the lock is free")
            return
        }
        await again.release()
        #expect(first.path == directory + "/ha-sync-media.lock")
    }

    @Test func aChildSharingTheLockDoesNotKeepItAfterRelease() async throws {
        let directory = try scratch()
        let lock = FileRunLock(directory: directory, pair: "media", holderDescription: "x")
        guard case .acquired(let hold) = try await lock.acquire() else {
            Issue.record("the first acquire must succeed")
            return
        }
        let child = try #require(SharingChild(sharingOpenFileOf: lock.path))
        defer { child.stop() }
        await hold.release()
        guard case .acquired(let again) = try await lock.acquire() else {
            Issue.record("a child that shares the lock's open file (forked, not yet exec'd) must not keep it")
            return
        }
        await again.release()
    }

    @Test func differentPairsDoNotBlockEachOther() async throws {
        let directory = try scratch()
        guard case .acquired(let a) = try await FileRunLock(directory: directory, pair: "a", holderDescription: "x").acquire(),
            case .acquired(let b) = try await FileRunLock(directory: directory, pair: "b", holderDescription: "y").acquire()
        else {
            Issue.record("both pairs must lock")
            return
        }
        await a.release()
        await b.release()
    }

    @Test func anUnusableDirectoryIsAnErrorNotHeld() async throws {
        await #expect(throws: RunLockError.self) {
            _ = try await FileRunLock(directory: "/proc/definitely/not/here", pair: "a", holderDescription: "x").acquire()
        }
    }

    @Test func inMemoryLocksBehaveLikeTheFileLock() async throws {
        let table = InMemoryLockTable()
        guard case .acquired(let hold) = try await table.lock("ha-sync-media", holder: "one").acquire() else {
            Issue.record("first acquire")
            return
        }
        guard case .held(let holder) = try await table.lock("ha-sync-media", holder: "two").acquire() else {
            Issue.record("second acquire must be held")
            return
        }
        #expect(holder == "one")
        await hold.release()
        #expect(table.holder(of: "ha-sync-media") == nil)
    }
}
