/// The Lease rules as pure functions: given what the API server returned and the time,
/// what to send next. The client carries the answers out; tests drive them with explicit times.
public enum LeaseDecisions {
    public enum Acquire: Sendable, Hashable {
        /// No Lease yet: create this one (a 409 AlreadyExists means another run won).
        case create(Lease)
        /// Expired or released: replace it with this one (same `resourceVersion`; a 409 means another run won).
        case takeOver(Lease)
        /// Someone else holds it until `expiresAt`.
        case held(holder: String, expiresAt: MicroTime)
    }

    public static func acquire(observed: Lease?, now: MicroTime, policy: LeasePolicy) -> Acquire {
        guard let observed else {
            return .create(
                Lease(
                    metadata: Lease.Metadata(name: policy.name, namespace: policy.namespace),
                    spec: Lease.Spec(
                        holderIdentity: policy.identity, leaseDurationSeconds: policy.durationSeconds, acquireTime: now, renewTime: now,
                        leaseTransitions: 0)))
        }
        let holder = observed.spec.holderIdentity ?? ""
        if !holder.isEmpty && holder != policy.identity, let expiry = expiry(of: observed, policy: policy), now <= expiry {
            return .held(holder: holder, expiresAt: expiry)
        }
        var lease = observed
        let transitions = observed.spec.leaseTransitions ?? 0
        lease.spec = Lease.Spec(
            holderIdentity: policy.identity, leaseDurationSeconds: policy.durationSeconds, acquireTime: now, renewTime: now,
            leaseTransitions: holder == policy.identity ? transitions : transitions + 1)
        return .takeOver(lease)
    }

    /// When an observed Lease stops counting: `renewTime` (or `acquireTime`) plus its duration and
    /// the skew allowance; `nil` when it has neither time, which counts as expired.
    public static func expiry(of lease: Lease, policy: LeasePolicy) -> MicroTime? {
        guard let last = lease.spec.renewTime ?? lease.spec.acquireTime else { return nil }
        let duration = lease.spec.leaseDurationSeconds ?? policy.durationSeconds
        return last.adding(seconds: Int64(duration + policy.clockSkewSeconds))
    }

    public enum Renew: Sendable, Hashable {
        /// Still ours: write this (with the `resourceVersion` read; a 409 means re-read and decide again).
        case renew(Lease)
        /// Another run holds it now: stop writing at once.
        case lost(reason: String)
    }

    public static func renew(observed: Lease?, now: MicroTime, policy: LeasePolicy) -> Renew {
        guard let observed else { return .lost(reason: "Lease \(policy.name) was deleted by someone else") }
        guard observed.spec.holderIdentity == policy.identity else {
            return .lost(reason: "Lease \(policy.name) is now held by \(observed.spec.holderIdentity ?? "nobody")")
        }
        var lease = observed
        lease.spec.renewTime = now
        lease.spec.leaseDurationSeconds = policy.durationSeconds
        return .renew(lease)
    }

    public enum Release: Sendable, Hashable {
        /// Delete it with this `resourceVersion` as a precondition.
        case delete(resourceVersion: String?)
        /// Not ours (any more): leave it.
        case leaveAlone(reason: String)
    }

    /// Deletes only a Lease this run holds: one it wrote, still under its identity (unique to
    /// the run), at the `resourceVersion` just observed, which is also the delete's
    /// precondition (a write by anyone in between makes the API server answer 409 instead).
    /// The observed version may be newer than this run's last recorded write: a renewal the
    /// server applied but whose answer was lost (a timeout on a slow API server) is still this
    /// run's, since any other writer takes the Lease under its own identity (client-go's
    /// leader election releases from the observed record the same way).
    public static func release(observed: Lease?, lastWritten: String?, policy: LeasePolicy) -> Release {
        guard let observed else { return .leaveAlone(reason: "Lease \(policy.name) is already gone") }
        guard observed.spec.holderIdentity == policy.identity else {
            return .leaveAlone(reason: "Lease \(policy.name) is held by \(observed.spec.holderIdentity ?? "nobody"), not by this run")
        }
        guard lastWritten != nil else {
            return .leaveAlone(reason: "Lease \(policy.name) was never written by this run")
        }
        return .delete(resourceVersion: observed.metadata.resourceVersion)
    }
}

/// When to renew, when to retry, and when to give up and stop writing.
public struct LeaseHeartbeat: Sendable, Hashable {
    public let policy: LeasePolicy
    /// The last renewal (or the acquisition) that the API server accepted.
    public private(set) var lastRenewal: MicroTime

    public init(policy: LeasePolicy, acquiredAt: MicroTime) {
        self.policy = policy
        self.lastRenewal = acquiredAt
    }

    /// When the next renewal is due.
    public var nextRenewal: MicroTime { lastRenewal.adding(seconds: Int64(policy.renewIntervalSeconds)) }

    /// The moment to stop writing if no renewal succeeds before it.
    public var deadline: MicroTime { lastRenewal.adding(seconds: Int64(policy.renewDeadlineSeconds)) }

    public mutating func renewed(at time: MicroTime) {
        lastRenewal = max(lastRenewal, time)
    }

    public enum AfterFailure: Sendable, Hashable {
        case retry(at: MicroTime)
        /// Stop writing: the Lease may be taken over soon.
        case fence(reason: String)
    }

    /// What to do after a renewal failed (the API server did not answer or returned an error) at `now`.
    public func afterFailure(at now: MicroTime) -> AfterFailure {
        if now >= deadline {
            return .fence(reason: "could not renew Lease \(policy.name) for \(policy.renewDeadlineSeconds) s (renew deadline)")
        }
        return .retry(at: min(now.adding(seconds: Int64(policy.retrySeconds)), deadline))
    }
}
