import Foundation

/// Polls `condition` every few milliseconds until it holds or `timeout` seconds pass.
public func waitUntil(timeout: Double = 60, _ condition: () -> Bool) async throws -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        try await Task.sleep(for: .milliseconds(2))
    }
    return condition()
}

/// Polls an asynchronous `condition` (every 50 ms) until it holds or `timeout` seconds pass.
public func waitUntilAsync(timeout: Double = 60, _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}
