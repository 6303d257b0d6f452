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
}
