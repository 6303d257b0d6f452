/// Names of the temporary files the engine writes before renaming into place.
///
/// They have a fixed length, so even a 255-byte final name gets a valid temp name, and a
/// prefix that the walker recognises on both sides: it never copies them and removes
/// leftovers of a killed run from the destination.
public enum TemporaryName {
    public static let prefix = Array(".ha-sync-tmp.".utf8)

    /// Whether `name` is one of the engine's temporary files.
    public static func matches(_ name: some Collection<UInt8>) -> Bool {
        name.count > prefix.count && name.starts(with: prefix)
    }

    /// A fresh temporary name: the prefix and 16 random hex digits.
    public static func make() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        let value = generator.next() as UInt64
        let hex = Array("0123456789abcdef".utf8)
        var name = prefix
        for shift in stride(from: 60, through: 0, by: -4) {
            name.append(hex[Int((value >> UInt64(shift)) & 0xF)])
        }
        return name
    }

    /// What a resumable transfer's partial file is called after the prefix.
    static let resumableMarker = Array("resume-".utf8)

    /// The name under which an interrupted transfer of a large file keeps what arrived, so
    /// the next transfer of the same source version (name, size and mtime) resumes from it.
    /// It is a temporary name too: never synced, and removed once it is old.
    public static func resumable(for name: [UInt8], size: Int64, modified: Timestamp) -> [UInt8] {
        // FNV-1a: a name, not a security boundary (what is rebuilt from it is checked with SHA-256).
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ byte: UInt8) {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        name.forEach(mix)
        for value in [size, modified.seconds, modified.nanoseconds] {
            withUnsafeBytes(of: value.littleEndian) { $0.forEach(mix) }
        }
        let hex = Array("0123456789abcdef".utf8)
        var result = prefix + resumableMarker
        for shift in stride(from: 60, through: 0, by: -4) {
            result.append(hex[Int((hash >> UInt64(shift)) & 0xF)])
        }
        return result
    }

    /// Whether `name` is a resumable transfer's partial file.
    public static func isResumable(_ name: some Collection<UInt8>) -> Bool {
        name.starts(with: prefix + resumableMarker)
    }

    /// A partial file unused for this long is removed like any other temporary file.
    public static let resumableLifetimeSeconds: Int64 = 7 * 86_400
}
