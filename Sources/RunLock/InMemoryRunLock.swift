import Synchronization

/// Locks kept in memory, for tests of code that takes a ``RunLock``.
public final class InMemoryLockTable: Sendable {
    private let holders = Mutex<[String: String]>([:])

    public init() {}

    /// A lock on `name` in this table, taken on behalf of `holder`.
    public func lock(_ name: String, holder: String) -> some RunLock {
        InMemoryRunLock(table: self, name: name, holder: holder)
    }

    /// Who holds `name`, if anyone.
    public func holder(of name: String) -> String? {
        holders.withLock { $0[name] }
    }

    fileprivate func tryAcquire(_ name: String, holder: String) -> String? {
        holders.withLock { table in
            if let current = table[name] { return current }
            table[name] = holder
            return nil
        }
    }

    fileprivate func release(_ name: String, holder: String) {
        holders.withLock { table in
            if table[name] == holder { table[name] = nil }
        }
    }
}

struct InMemoryRunLock: RunLock {
    let table: InMemoryLockTable
    let name: String
    let holder: String

    func acquire() async throws -> LockAcquisition {
        if let current = table.tryAcquire(name, holder: holder) {
            return .held(holder: current)
        }
        return .acquired(InMemoryHold(table: table, name: name, holder: holder))
    }
}

struct InMemoryHold: HeldLock {
    let table: InMemoryLockTable
    let name: String
    let holder: String

    func release() async {
        table.release(name, holder: holder)
    }
}
