public import SyncCore

/// Times in the audit tables: `YYYY-MM-DD HH:MM:SS.mmm` in UTC, the text form of MySQL's
/// `DATETIME(3)`. It sorts as text, so SQLite compares it correctly too.
public enum SQLTime {
    public static func format(_ time: Timestamp) -> String {
        time.utc.formatted(separator: " ") + "." + UTCDateTime.pad(Int(time.nanoseconds / 1_000_000), 3)
    }

    /// Parses the format above (the fraction may have 0 to 9 digits); `nil` if malformed.
    public static func parse(_ text: String) -> Timestamp? {
        let bytes = Array(text.utf8)
        guard let dateTime = UTCDateTime(prefixOf: bytes), bytes[10] == 0x20 || bytes[10] == 0x54 else { return nil }
        var nanoseconds: Int64 = 0
        if bytes.count > 20 {
            var scale: Int64 = 100_000_000
            for digit in bytes[20...].prefix(9) {
                guard digit >= 0x30 && digit <= 0x39 else { return nil }
                nanoseconds += Int64(digit - 0x30) * scale
                scale /= 10
            }
        }
        return Timestamp(seconds: dateTime.epochSeconds, nanoseconds: nanoseconds)
    }
}
