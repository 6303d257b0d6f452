import KubernetesClient
import KubernetesLease
public import Logging
public import RunLock
public import SyncCore

/// The run lock a configuration asks for: a Lease with `--lock kubernetes` (or `auto` in a
/// pod), else the lock file in the log directory.
public struct RunLocks: Sendable {
    /// The lock, and what to close once it is released (the Lease client's connections).
    public var lock: any RunLock
    public var close: @Sendable () async -> Void

    public init(lock: any RunLock, close: @escaping @Sendable () async -> Void = {}) {
        self.lock = lock
        self.close = close
    }

    /// Whether this process runs in a pod (a service account is mounted).
    public static func isInCluster() -> Bool {
        KubernetesConfiguration.isInCluster()
    }

    /// Builds the lock. Throws a ``RunLockError`` when a Lease is asked for but cannot be configured.
    public static func make(for configuration: RunConfiguration, logger: Logger, clock: any WallClock = SystemWallClock()) throws -> RunLocks {
        let settings = configuration.lock
        guard settings.kind == .kubernetes || (settings.kind == .auto && settings.inCluster) else {
            return RunLocks(
                lock: FileRunLock(
                    directory: configuration.logDirectory, pair: configuration.pair, holderDescription: "direction \(configuration.direction)"))
        }
        let kubernetes: KubernetesConfiguration
        if settings.inCluster && settings.kubeconfig == nil {
            kubernetes = try KubernetesConfiguration.inCluster()
        } else if let kubeconfig = settings.kubeconfig {
            kubernetes = try KubernetesConfiguration.kubeconfig(path: kubeconfig)
        } else {
            throw RunLockError("--lock kubernetes needs --kubeconfig, $KUBECONFIG, or a pod's service account")
        }
        let policy = LeasePolicy(
            name: Lease.name(pair: configuration.pair), namespace: settings.namespace ?? kubernetes.namespace ?? "infrastructure",
            identity: LeaseIdentity.make(holder: settings.holderName, direction: configuration.direction), durationSeconds: settings.ttlSeconds)
        let client = try LeaseClient(configuration: kubernetes)
        return RunLocks(lock: KubernetesLeaseLock(client: client, policy: policy, logger: logger, clock: clock), close: { await client.shutdown() })
    }
}
