import Crypto

/// Incremental MD5, printed as 32 lowercase hex digits (the audit schema's `md5_*` columns).
///
/// MD5 is used to tell "same content" from "different content" between two replicas the
/// operator owns, not as a defence against an attacker.
public struct MD5Stream {
    private var hasher = Insecure.MD5()

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        hasher.update(bufferPointer: bytes)
    }

    public consuming func finalize() -> String {
        lowercaseHex(hasher.finalize())
    }
}

/// `bytes` as lowercase hex digits, two per byte (the form of every digest the engine compares).
func lowercaseHex(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var text: [UInt8] = []
    text.reserveCapacity(bytes.underestimatedCount * 2)
    for byte in bytes {
        text.append(digits[Int(byte >> 4)])
        text.append(digits[Int(byte & 0xF)])
    }
    return String(decoding: text, as: UTF8.self)
}
