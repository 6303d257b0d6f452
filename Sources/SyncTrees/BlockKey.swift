import Crypto

/// The secret key of the block hashes (``StrongHash``) one comparison or one delta uses.
///
/// A block's hash is its GMAC under this key: GHASH, which AES-GCM computes in hardware at
/// several GB/s a core, where SHA-256 manages under 2 GB/s. A file of a gigabyte is hashed on
/// both sides before a delta, so this is most of a large file's transfer time. GHASH is a
/// universal hash: two different blocks share a hash with a chance of about their length in
/// 16-byte units over 2^128, and only for someone who does not know the key, which is why
/// it is keyed at all. So a key is made at random for each comparison (or each delta without
/// one), travels only inside the TLS connection between the two ends, and is never logged or
/// stored.
public struct BlockKey: Sendable, Hashable {
    /// The key's 16 bytes, as they travel.
    public let bytes: [UInt8]
    private let key: SymmetricKey

    public init?(bytes: [UInt8]) {
        guard bytes.count == 16 else { return nil }
        self.bytes = bytes
        key = SymmetricKey(data: bytes)
    }

    /// A new key from the system's random source.
    public static func random() -> BlockKey {
        var generator = SystemRandomNumberGenerator()
        return BlockKey(bytes: (0..<16).map { _ in UInt8.random(in: .min ... .max, using: &generator) })!
    }

    public static func == (lhs: BlockKey, rhs: BlockKey) -> Bool { lhs.bytes == rhs.bytes }
    public func hash(into hasher: inout Hasher) { hasher.combine(bytes) }

    /// Every hash under one key uses the same nonce: equal tags then mean equal GHASH values,
    /// which is what a block's hash must say.
    private static let nonce = try! AES.GCM.Nonce(data: [UInt8](repeating: 0, count: 12))

    /// The hash of one block (or a file's shorter last block).
    public func hash(_ bytes: UnsafeRawBufferPointer) -> StrongHash {
        let tag: [UInt8]
        do {
            tag = Array(try AES.GCM.seal(EmptyCollection<UInt8>(), using: key, nonce: Self.nonce, authenticating: bytes).tag)
        } catch {
            preconditionFailure("AES-GCM with a 128-bit key and a 96-bit nonce cannot fail: \(error)")
        }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for index in 0..<8 { high = high << 8 | UInt64(tag[index]) }
        for index in 8..<16 { low = low << 8 | UInt64(tag[index]) }
        return StrongHash(high: high, low: low)
    }
}
