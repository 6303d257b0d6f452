public import AuditLog
public import Logging

/// Hands out the audit store, opening it on first use and again after it failed.
///
/// The dashboard must stay up while the database is away: a failed query drops the
/// connection, and the next request tries to open a new one (at most every few seconds).
public actor StoreProvider {
    private let open: @Sendable () async throws -> any AuditStore
    private let retryAfterSeconds: Double
    private let logger: Logger
    private var store: (any AuditStore)?
    private var lastFailure: (error: String, at: ContinuousClock.Instant)?

    public init(retryAfterSeconds: Double = 3, logger: Logger, open: @escaping @Sendable () async throws -> any AuditStore) {
        self.open = open
        self.retryAfterSeconds = retryAfterSeconds
        self.logger = logger
    }

    /// Runs `body` with the store; throws ``StoreUnavailable`` when it cannot be reached.
    public func withStore<T: Sendable>(_ body: @Sendable (any AuditStore) async throws -> T) async throws -> T {
        let store = try await current()
        do {
            return try await body(store)
        } catch {
            // The store went away (or the query failed): reconnect on the next request. Another
            // request may already have replaced it; only the one that is still current is dropped.
            if let current = self.store, ObjectIdentifier(current as AnyObject) == ObjectIdentifier(store as AnyObject) {
                self.store = nil
                await store.close()
            }
            lastFailure = ("\(error)", .now)
            logger.warning("audit store query failed: \(error)")
            throw StoreUnavailable(message: "\(error)")
        }
    }

    private func current() async throws -> any AuditStore {
        if let store { return store }
        if let lastFailure, lastFailure.at.duration(to: .now) < .seconds(retryAfterSeconds) {
            throw StoreUnavailable(message: lastFailure.error)
        }
        do {
            let opened = try await open()
            // Another request may have opened one while this one waited (actors are
            // reentrant): keep that one and close this, so no connection is dropped unclosed.
            if let store {
                await opened.close()
                return store
            }
            store = opened
            lastFailure = nil
            return opened
        } catch {
            lastFailure = ("\(error)", .now)
            logger.warning("audit store unreachable: \(error)")
            throw StoreUnavailable(message: "\(error)")
        }
    }

    public func close() async {
        await store?.close()
        store = nil
    }
}

/// The audit store could not be reached. The message never holds a password (the stores'
/// errors name user, host and database only).
public struct StoreUnavailable: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { "audit store unreachable: \(message)" }
}
