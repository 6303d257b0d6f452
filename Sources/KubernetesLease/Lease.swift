/// A `coordination.k8s.io/v1` Lease, with the fields a run lock uses.
public struct Lease: Codable, Sendable, Hashable {
    public var apiVersion = "coordination.k8s.io/v1"
    public var kind = "Lease"
    public var metadata: Metadata
    public var spec: Spec

    public struct Metadata: Codable, Sendable, Hashable {
        public var name: String
        public var namespace: String?
        /// The version the API server assigned; an update must carry the one it read.
        public var resourceVersion: String?
        public var uid: String?

        public init(name: String, namespace: String? = nil, resourceVersion: String? = nil, uid: String? = nil) {
            self.name = name
            self.namespace = namespace
            self.resourceVersion = resourceVersion
            self.uid = uid
        }
    }

    public struct Spec: Codable, Sendable, Hashable {
        public var holderIdentity: String?
        public var leaseDurationSeconds: Int?
        public var acquireTime: MicroTime?
        public var renewTime: MicroTime?
        public var leaseTransitions: Int?

        public init(
            holderIdentity: String? = nil, leaseDurationSeconds: Int? = nil, acquireTime: MicroTime? = nil, renewTime: MicroTime? = nil,
            leaseTransitions: Int? = nil
        ) {
            self.holderIdentity = holderIdentity
            self.leaseDurationSeconds = leaseDurationSeconds
            self.acquireTime = acquireTime
            self.renewTime = renewTime
            self.leaseTransitions = leaseTransitions
        }
    }

    public init(metadata: Metadata, spec: Spec) {
        self.metadata = metadata
        self.spec = spec
    }

    /// The Lease name for a pair: both directions share it.
    public static func name(pair: String) -> String { "ha-sync-\(pair)" }
}
