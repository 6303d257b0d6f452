import Crypto

/// An order-independent fingerprint of a set of ``PlanKey``s, built in constant memory.
///
/// Each key is hashed with SHA-256 and the first 8 bytes are added up (wrapping); with the
/// count, two plans with the same keys give the same digest whatever order their operations
/// finished in, and a difference is missed with a probability of about 2^-64.
public struct PlanDigest: Sendable, Hashable, CustomStringConvertible {
    public private(set) var count = 0
    public private(set) var sum: UInt64 = 0

    public init() {}

    public init<S: Sequence>(_ keys: S) where S.Element == PlanKey {
        for key in keys { add(key) }
    }

    public mutating func add(_ key: PlanKey) {
        var hasher = SHA256()
        hasher.update(data: Array(key.filepath.utf8))
        hasher.update(data: [0, UInt8(key.operation == .create ? 1 : key.operation == .update ? 2 : 3), 0])
        hasher.update(data: Array((key.sizeBefore.map(String.init) ?? "null").utf8))
        var value: UInt64 = 0
        for byte in hasher.finalize().prefix(8) { value = value << 8 | UInt64(byte) }
        sum = sum &+ value
        count += 1
    }

    public var description: String { "\(count) operations, digest \(String(sum, radix: 16))" }
}
