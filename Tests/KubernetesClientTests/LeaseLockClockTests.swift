import Foundation
import KubernetesClient
import KubernetesLease
import KubernetesTestSupport
import Logging
import RunLock
import SyncCore
import SyncTestSupport
import Synchronization
import Testing

/// The Lease lock's heartbeat on a manual clock: renewals and fencing happen when the clock
/// says so, with no sleeping in the test.
@Suite("Lease lock on a test clock", .serialized, .timeLimit(.minutes(1)))
struct LeaseLockClockTests {
    let policy = LeasePolicy(name: "ha-sync-infra", namespace: "infrastructure", identity: "pod-a/fwd/0000beef", durationSeconds: 30)

    func withLock(_ body: (FakeKubernetesAPI, KubernetesLeaseLock, ManualClock) async throws -> Void) async throws {
        let api = try await FakeKubernetesAPI.start(tokens: ["t": FakeKubernetesAPI.allVerbs])
        let client = try LeaseClient(
            configuration: KubernetesConfiguration(server: api.server, certificateAuthorityPEM: api.certificateAuthorityPEM, token: .value("t")))
        let clock = ManualClock(now: .now())
        let lock = KubernetesLeaseLock(client: client, policy: policy, logger: Logger(label: "lease-test"), clock: clock)
        do {
            try await body(api, lock, clock)
        } catch {
            await client.shutdown()
            await api.stop()
            throw error
        }
        await client.shutdown()
        await api.stop()
    }

    @Test func theHeartbeatRenewsEveryThirdOfTheDurationOnTheClock() async throws {
        try await withLock { api, lock, clock in
            guard case .acquired(let hold) = try await lock.acquire() else {
                Issue.record("a free Lease is acquired")
                return
            }
            let acquired = try #require(api.lease(namespace: "infrastructure", name: "ha-sync-infra")?.spec.renewTime)
            #expect(acquired == MicroTime(clock.now))

            await withTaskGroup(of: Void.self) { group in
                group.addTask { await hold.maintain { _ in Issue.record("not lost") } }
                #expect(await clock.waitForSleepers())
                #expect(api.lease(namespace: "infrastructure", name: "ha-sync-infra")?.spec.renewTime == acquired, "nothing before the interval")
                clock.advance(by: .seconds(10))
                let renewedAt = MicroTime(clock.now)
                let renewed =
                    (try? await waitUntil(timeout: 10) { api.lease(namespace: "infrastructure", name: "ha-sync-infra")?.spec.renewTime == renewedAt })
                #expect(renewed == true)
                group.cancelAll()
            }
            await hold.release()
            #expect(api.lease(namespace: "infrastructure", name: "ha-sync-infra") == nil)
        }
    }

    @Test func anUnreachableAPIServerFencesTheRunAtTheRenewDeadline() async throws {
        try await withLock { api, lock, clock in
            guard case .acquired(let hold) = try await lock.acquire() else {
                Issue.record("a free Lease is acquired")
                return
            }
            api.setUnavailable(true)
            let lost = LostReason()
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await hold.maintain { reason in lost.set(reason) } }
                // Step the clock; each failed renewal schedules a retry a few seconds later.
                var steps = 0
                while lost.value == nil && steps < 40 {
                    // The heartbeat either sleeps again or fences and returns: wait for one of them.
                    while clock.sleeperCount == 0 && lost.value == nil {
                        try? await Task.sleep(for: .milliseconds(2))
                    }
                    if lost.value != nil { break }
                    clock.advance(by: .seconds(1))
                    steps += 1
                    try? await Task.sleep(for: .milliseconds(20))
                }
                group.cancelAll()
            }
            let reason = try #require(lost.value)
            #expect(reason.contains("renew"), "\(reason)")
            // Fenced at 2/3 of the 30 s duration after the last renewal, never later.
            #expect(api.lease(namespace: "infrastructure", name: "ha-sync-infra") != nil)
        }
    }
}

/// The reason a heartbeat reported, shared with its task.
final class LostReason: Sendable {
    private let reason = Mutex<String?>(nil)
    func set(_ text: String) { reason.withLock { $0 = text } }
    var value: String? { reason.withLock { $0 } }
}
