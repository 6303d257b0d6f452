public import KubernetesLease
public import Logging
public import RunLock
public import SyncCore
import Synchronization

/// The run lock in a cluster: a `coordination.k8s.io/v1` Lease per pair.
///
/// Acquire: read the Lease; none → create it; held by another live run → "held"; expired or
/// released → take it over with the `resourceVersion` read. A 409 at either step means another
/// run won the race, which also reads as "held". While held, the Lease is renewed every third
/// of its duration; if another run takes it, or renewals fail until the renew deadline, the run
/// is told to stop writing. Release deletes the Lease, only if this run still holds it.
public struct KubernetesLeaseLock: RunLock {
    public let client: LeaseClient
    public let policy: LeasePolicy
    public let logger: Logger
    /// Decides expiry, renewal times and the renew deadline; a test moves it by hand.
    public let clock: any WallClock

    public init(client: LeaseClient, policy: LeasePolicy, logger: Logger, clock: any WallClock = SystemWallClock()) {
        self.client = client
        self.policy = policy
        self.logger = logger
        self.clock = clock
    }

    func now() -> MicroTime {
        MicroTime(clock.now)
    }

    public func acquire() async throws -> LockAcquisition {
        do {
            let observed = try await client.get(namespace: policy.namespace, name: policy.name)
            switch LeaseDecisions.acquire(observed: observed, now: now(), policy: policy) {
            case .held(let holder, let expiresAt):
                return .held(holder: "\(holder), Lease \(policy.namespace)/\(policy.name) valid until \(expiresAt)")
            case .create(let lease):
                do {
                    return .acquired(KubernetesLeaseHold(lock: self, lease: try await client.create(lease, namespace: policy.namespace)))
                } catch let error as KubernetesError where error.code == 409 {
                    return .held(holder: "another run, which created Lease \(policy.namespace)/\(policy.name) first")
                }
            case .takeOver(let lease):
                do {
                    let taken = try await client.replace(lease, namespace: policy.namespace)
                    if let previous = observed?.spec.holderIdentity, !previous.isEmpty, previous != policy.identity {
                        logger.notice("took over an expired Lease", metadata: ["lease": "\(policy.name)", "previous_holder": "\(previous)"])
                    }
                    return .acquired(KubernetesLeaseHold(lock: self, lease: taken))
                } catch let error as KubernetesError where error.code == 409 {
                    return .held(holder: "another run, which took Lease \(policy.namespace)/\(policy.name) first")
                }
            }
        } catch let error as KubernetesError {
            throw RunLockError("cannot take Lease \(policy.namespace)/\(policy.name): \(error)")
        }
    }
}

/// A Lease this run holds.
final class KubernetesLeaseHold: HeldLock {
    let lock: KubernetesLeaseLock
    private let current: Mutex<Lease?>

    init(lock: KubernetesLeaseLock, lease: Lease) {
        self.lock = lock
        self.current = Mutex(lease)
    }

    func maintain(onLost: @escaping @Sendable (String) -> Void) async {
        let policy = lock.policy
        var heartbeat = LeaseHeartbeat(policy: policy, acquiredAt: current.withLock { $0?.spec.renewTime } ?? lock.now())
        var wakeAt = heartbeat.nextRenewal
        while !Task.isCancelled {
            do {
                try await lock.clock.sleep(until: wakeAt.timestamp, tolerance: nil)
            } catch {
                return  // cancelled: the run is over
            }
            do {
                let observed = try await lock.client.get(namespace: policy.namespace, name: policy.name)
                switch LeaseDecisions.renew(observed: observed, now: lock.now(), policy: policy) {
                case .lost(let reason):
                    current.withLock { $0 = nil }
                    lock.logger.error("lost the Lease: \(reason); stopping all writes")
                    onLost(reason)
                    return
                case .renew(let lease):
                    // Not cut short when the run ends meanwhile: a renewal the server applied but
                    // this run never heard of would leave the release at a stale resourceVersion,
                    // and the Lease would stay until it expires.
                    let client = lock.client
                    let renewed = try await Task { try await client.replace(lease, namespace: policy.namespace) }.value
                    current.withLock { $0 = renewed }
                    heartbeat.renewed(at: renewed.spec.renewTime ?? lock.now())
                    wakeAt = heartbeat.nextRenewal
                }
            } catch {
                switch heartbeat.afterFailure(at: lock.now()) {
                case .retry(let at):
                    lock.logger.warning("Lease renewal failed, retrying: \(error)")
                    wakeAt = at
                case .fence(let reason):
                    lock.logger.error("\(reason): stopping all writes")
                    onLost(reason)
                    return
                }
            }
        }
    }

    func release() async {
        let policy = lock.policy
        let last = current.withLock { lease in
            defer { lease = nil }
            return lease
        }
        guard let last else { return }
        do {
            let observed = try await lock.client.get(namespace: policy.namespace, name: policy.name)
            switch LeaseDecisions.release(observed: observed, lastWritten: last.metadata.resourceVersion, policy: policy) {
            case .delete(let version):
                try await lock.client.delete(namespace: policy.namespace, name: policy.name, resourceVersion: version)
            case .leaveAlone(let reason):
                lock.logger.notice("not deleting the Lease: \(reason)")
            }
        } catch let error as KubernetesError where error.code == 409 {
            lock.logger.notice("not deleting the Lease: another run wrote it after this run's last renewal")
        } catch {
            lock.logger.warning("could not release Lease \(policy.namespace)/\(policy.name): \(error); it expires by itself")
        }
    }
}
