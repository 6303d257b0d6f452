import Foundation
import KubernetesLease
import SyncCore
import Testing

private let policy = LeasePolicy(name: "ha-sync-media", namespace: "infrastructure", identity: "pod-a/dell-to-hp", durationSeconds: 60)
private let t0 = MicroTime(microseconds: 1_800_000_000_000_000)

private func lease(holder: String?, renewedAt: MicroTime?, duration: Int? = 60, transitions: Int? = 3, version: String = "41") -> Lease {
    Lease(
        metadata: Lease.Metadata(name: "ha-sync-media", namespace: "infrastructure", resourceVersion: version),
        spec: Lease.Spec(
            holderIdentity: holder, leaseDurationSeconds: duration, acquireTime: renewedAt, renewTime: renewedAt, leaseTransitions: transitions))
}

@Suite("Lease decisions")
struct LeaseDecisionsTests {
    @Test func noLeaseMeansCreate() {
        guard case .create(let created) = LeaseDecisions.acquire(observed: nil, now: t0, policy: policy) else {
            Issue.record("expected create")
            return
        }
        #expect(created.metadata.name == "ha-sync-media")
        #expect(created.metadata.namespace == "infrastructure")
        #expect(created.metadata.resourceVersion == nil)
        #expect(
            created.spec
                == Lease.Spec(holderIdentity: "pod-a/dell-to-hp", leaseDurationSeconds: 60, acquireTime: t0, renewTime: t0, leaseTransitions: 0))
    }

    @Test func aLiveLeaseOfSomeoneElseIsHeldUntilDurationPlusSkew() {
        let observed = lease(holder: "pod-b/hp-to-dell", renewedAt: t0)
        let expires = t0.adding(seconds: 65)
        #expect(
            LeaseDecisions.acquire(observed: observed, now: t0.adding(seconds: 30), policy: policy)
                == .held(holder: "pod-b/hp-to-dell", expiresAt: expires))
        #expect(
            LeaseDecisions.acquire(observed: observed, now: expires, policy: policy) == .held(holder: "pod-b/hp-to-dell", expiresAt: expires),
            "not before the skew has passed")
    }

    @Test func anExpiredLeaseIsTakenOverWithTheVersionReadAndOneMoreTransition() {
        let observed = lease(holder: "pod-b/hp-to-dell", renewedAt: t0)
        let now = t0.adding(seconds: 66)
        guard case .takeOver(let taken) = LeaseDecisions.acquire(observed: observed, now: now, policy: policy) else {
            Issue.record("expected takeOver")
            return
        }
        #expect(taken.metadata.resourceVersion == "41")
        #expect(taken.spec.holderIdentity == "pod-a/dell-to-hp")
        #expect(taken.spec.leaseTransitions == 4)
        #expect(taken.spec.acquireTime == now && taken.spec.renewTime == now)
    }

    @Test(arguments: [nil, ""])
    func aReleasedLeaseIsTakenOverAtOnce(holder: String?) {
        let observed = lease(holder: holder, renewedAt: t0)
        guard case .takeOver(let taken) = LeaseDecisions.acquire(observed: observed, now: t0.adding(seconds: 1), policy: policy) else {
            Issue.record("expected takeOver")
            return
        }
        #expect(taken.spec.leaseTransitions == 4)
    }

    @Test func aLeaseWithoutTimesCountsAsExpired() {
        let observed = lease(holder: "pod-b/x", renewedAt: nil)
        #expect(LeaseDecisions.expiry(of: observed, policy: policy) == nil)
        if case .held = LeaseDecisions.acquire(observed: observed, now: t0, policy: policy) { Issue.record("must not count as held") }
    }

    @Test func ourOwnLeaseIsRetakenWithoutATransition() {
        let observed = lease(holder: "pod-a/dell-to-hp", renewedAt: t0)
        guard case .takeOver(let taken) = LeaseDecisions.acquire(observed: observed, now: t0.adding(seconds: 5), policy: policy) else {
            Issue.record("expected takeOver")
            return
        }
        #expect(taken.spec.leaseTransitions == 3)
    }

    @Test func theLeasesOwnDurationDecidesItsExpiry() {
        let observed = lease(holder: "pod-b/x", renewedAt: t0, duration: 3600)
        #expect(LeaseDecisions.expiry(of: observed, policy: policy) == t0.adding(seconds: 3605))
    }

    @Test func renewingKeepsTheLeaseAndMovesRenewTime() {
        let observed = lease(holder: "pod-a/dell-to-hp", renewedAt: t0)
        let now = t0.adding(seconds: 20)
        guard case .renew(let renewed) = LeaseDecisions.renew(observed: observed, now: now, policy: policy) else {
            Issue.record("expected renew")
            return
        }
        #expect(renewed.spec.renewTime == now)
        #expect(renewed.spec.acquireTime == t0)
        #expect(renewed.metadata.resourceVersion == "41")
    }

    @Test func aLeaseHandedToSomeoneElseOrDeletedIsLost() {
        let taken = lease(holder: "pod-b/hp-to-dell", renewedAt: t0)
        #expect(
            LeaseDecisions.renew(observed: taken, now: t0, policy: policy) == .lost(reason: "Lease ha-sync-media is now held by pod-b/hp-to-dell"))
        #expect(LeaseDecisions.renew(observed: nil, now: t0, policy: policy) == .lost(reason: "Lease ha-sync-media was deleted by someone else"))
    }

    @Test func onlyTheHolderDeletesAndOnlyWithItsVersion() {
        let ours = lease(holder: "pod-a/dell-to-hp", renewedAt: t0)
        #expect(LeaseDecisions.release(observed: ours, lastWritten: "41", policy: policy) == .delete(resourceVersion: "41"))
        // A renewal whose answer was lost: still this run's (its identity is unique), deleted at the observed version.
        #expect(LeaseDecisions.release(observed: ours, lastWritten: "40", policy: policy) == .delete(resourceVersion: "41"))
        if case .delete = LeaseDecisions.release(observed: ours, lastWritten: nil, policy: policy) { Issue.record("never written by us") }
        if case .delete = LeaseDecisions.release(observed: lease(holder: "pod-b/x", renewedAt: t0), lastWritten: "41", policy: policy) {
            Issue.record("not ours")
        }
        if case .delete = LeaseDecisions.release(observed: nil, lastWritten: "41", policy: policy) { Issue.record("nothing to delete") }
    }
}

@Suite("Lease heartbeat timing")
struct LeaseHeartbeatTests {
    @Test func renewalsAreDueEveryThirdOfTheDuration() {
        var heartbeat = LeaseHeartbeat(policy: policy, acquiredAt: t0)
        #expect(heartbeat.nextRenewal == t0.adding(seconds: 20))
        #expect(heartbeat.deadline == t0.adding(seconds: 40))
        heartbeat.renewed(at: t0.adding(seconds: 20))
        #expect(heartbeat.nextRenewal == t0.adding(seconds: 40))
        heartbeat.renewed(at: t0.adding(seconds: 5))  // an older answer never moves time back
        #expect(heartbeat.lastRenewal == t0.adding(seconds: 20))
    }

    @Test func failuresAreRetriedUntilTheDeadlineThenFence() {
        let heartbeat = LeaseHeartbeat(policy: policy, acquiredAt: t0)
        #expect(heartbeat.afterFailure(at: t0.adding(seconds: 20)) == .retry(at: t0.adding(seconds: 25)))
        #expect(heartbeat.afterFailure(at: t0.adding(seconds: 38)) == .retry(at: t0.adding(seconds: 40)), "never past the deadline")
        guard case .fence(let reason) = heartbeat.afterFailure(at: t0.adding(seconds: 40)) else {
            Issue.record("expected fence")
            return
        }
        #expect(reason.contains("renew deadline"))
    }

    @Test func theDeadlineLeavesAThirdOfTheDurationBeforeATakeOver() {
        for duration in [15, 60, 3600] {
            let policy = LeasePolicy(name: "l", namespace: "n", identity: "me", durationSeconds: duration)
            let heartbeat = LeaseHeartbeat(policy: policy, acquiredAt: t0)
            let earliestTakeOver = t0.adding(seconds: Int64(duration + policy.clockSkewSeconds))
            #expect(earliestTakeOver.microseconds - heartbeat.deadline.microseconds >= Int64(duration / 3) * 1_000_000)
        }
    }
}

@Suite("Kubernetes MicroTime and Lease JSON")
struct LeaseCodingTests {
    @Test func microTimeFormatsWithSixDigitsAndParsesOffsets() {
        let time = MicroTime(Timestamp(seconds: 1_795_246_120, nanoseconds: 123_456_789))
        #expect(time.description == "2026-11-21T07:28:40.123456Z")
        #expect(MicroTime(parsing: "2026-11-21T07:28:40.123456Z") == time)
        #expect(MicroTime(parsing: "2026-11-21T08:28:40.123456+01:00") == time)
        #expect(MicroTime(parsing: "2026-11-21T07:28:40Z") == MicroTime(Timestamp(seconds: 1_795_246_120)))
        #expect(MicroTime(parsing: "yesterday") == nil)
        #expect(MicroTime(parsing: "2026-11-21T07:28:40") == nil, "a zone is required")
    }

    @Test func aLeaseFromTheAPIServerDecodesAndEncodesBack() throws {
        let json = """
            {"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"ha-sync-media","namespace":"infrastructure",
            "resourceVersion":"1234","uid":"6f1c","creationTimestamp":"2026-11-21T07:00:00Z"},
            "spec":{"holderIdentity":"pod-a/dell-to-hp","leaseDurationSeconds":3600,"acquireTime":"2026-11-21T07:00:00.000000Z",
            "renewTime":"2026-11-21T07:20:00.500000Z","leaseTransitions":2}}
            """
        let decoded = try JSONDecoder().decode(Lease.self, from: Data(json.utf8))
        #expect(decoded.metadata.resourceVersion == "1234")
        #expect(decoded.spec.renewTime == MicroTime(parsing: "2026-11-21T07:20:00.5Z"))
        let again = try JSONDecoder().decode(Lease.self, from: JSONEncoder().encode(decoded))
        #expect(again == decoded)
    }
}
