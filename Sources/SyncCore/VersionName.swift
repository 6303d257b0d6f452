/// Where a kept version lives: `.ha-sync-versions/<original path>~<YYYYMMDDTHHMMSSZ>[-N]`,
/// at the top of the side it was taken from.
///
/// The time is the run's, in UTC. Names are bytes; a name too long for the suffix is
/// shortened deterministically (its first bytes, a `#`, and 8 hex digits of a hash of the
/// whole name), so every version of one file lands under the same shortened name and
/// `ha-sync versions` finds them again from the original path.
public enum VersionName {
    /// The version store's folder at the root of each side. The walk never syncs it.
    public static let folder = Array(".ha-sync-versions".utf8)
    public static let folderPath = RelativePath(unchecked: folder)

    /// The name of a kept version of `name`, unused by `taken`.
    public static func make(for name: [UInt8], at time: Timestamp, taken: ([UInt8]) -> Bool) -> [UInt8] {
        let base = stem(name) + [UInt8(ascii: "~")] + Array(stamp(time).utf8)
        var candidate = base
        var counter = 2
        while taken(candidate) {
            candidate = base + Array("-\(counter)".utf8)
            counter += 1
        }
        return candidate
    }

    /// The name the versions of `name` start with (before `~`): the name, or its shortened form.
    public static func stem(_ name: [UInt8]) -> [UInt8] {
        // `~` + 16-byte stamp + room for `-NNN`.
        let room = 255 - 1 - 16 - 4
        guard name.count > room else { return name }
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325  // FNV-1a: stable across runs and builds
        for byte in name {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01B3
        }
        let hex = Array("0123456789abcdef".utf8)
        var digits: [UInt8] = []
        for shift in stride(from: 28, through: 0, by: -4) { digits.append(hex[Int((hash >> UInt64(shift)) & 0xF)]) }
        return Array(name.prefix(room - 9)) + [UInt8(ascii: "#")] + digits
    }

    /// `YYYYMMDDTHHMMSSZ`.
    public static func stamp(_ time: Timestamp) -> String {
        let utc = time.utc
        let pad = UTCDateTime.pad
        return pad(utc.year, 4) + pad(utc.month, 2) + pad(utc.day, 2) + "T" + pad(utc.hour, 2) + pad(utc.minute, 2) + pad(utc.second, 2) + "Z"
    }

    /// Splits a version's name into the stem it belongs to and its time; `nil` for names that
    /// are not versions.
    public static func parse(_ name: [UInt8]) -> (stem: [UInt8], time: Timestamp)? {
        guard let tilde = name.lastIndex(of: UInt8(ascii: "~")) else { return nil }
        var suffix = Array(name[(tilde + 1)...])
        if suffix.count > 16, suffix[16] == UInt8(ascii: "-"), suffix[17...].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), suffix.count > 17 {
            suffix = Array(suffix.prefix(16))
        }
        guard suffix.count == 16, suffix[8] == UInt8(ascii: "T"), suffix[15] == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                guard suffix[index] >= 0x30 && suffix[index] <= 0x39 else { return nil }
                value = value * 10 + Int(suffix[index] - 0x30)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(4..<6), let day = number(6..<8), let hour = number(9..<11),
            let minute = number(11..<13), let second = number(13..<15), (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        let time = UTCDateTime(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
        return (Array(name[..<tilde]), Timestamp(seconds: time.epochSeconds))
    }
}
