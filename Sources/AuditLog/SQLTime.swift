public import SyncCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Times in the audit tables: `YYYY-MM-DD HH:MM:SS.mmm` in UTC, the text form of MySQL's
/// `DATETIME(3)`. It sorts as text, so SQLite compares it correctly too.
public enum SQLTime {
    public static func format(_ time: Timestamp) -> String {
        var seconds = time_t(time.seconds)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        // Written byte by byte: the flush formats two times per operation.
        var bytes = [UInt8](repeating: 0, count: 23)
        func put(_ value: Int, at offset: Int, width: Int) {
            var value = value
            for position in stride(from: offset + width - 1, through: offset, by: -1) {
                bytes[position] = UInt8(value % 10) + 0x30
                value /= 10
            }
        }
        put(Int(parts.tm_year) + 1900, at: 0, width: 4)
        put(Int(parts.tm_mon) + 1, at: 5, width: 2)
        put(Int(parts.tm_mday), at: 8, width: 2)
        put(Int(parts.tm_hour), at: 11, width: 2)
        put(Int(parts.tm_min), at: 14, width: 2)
        put(Int(parts.tm_sec), at: 17, width: 2)
        put(Int(time.nanoseconds / 1_000_000), at: 20, width: 3)
        bytes[4] = UInt8(ascii: "-")
        bytes[7] = UInt8(ascii: "-")
        bytes[10] = UInt8(ascii: " ")
        bytes[13] = UInt8(ascii: ":")
        bytes[16] = UInt8(ascii: ":")
        bytes[19] = UInt8(ascii: ".")
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Parses the format above (the fraction may have 0 to 6 digits); `nil` if malformed.
    public static func parse(_ text: String) -> Timestamp? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 19 else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                guard bytes[index] >= 0x30 && bytes[index] <= 0x39 else { return nil }
                value = value * 10 + Int(bytes[index] - 0x30)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19)
        else { return nil }
        var nanoseconds: Int64 = 0
        if bytes.count > 20 {
            let digits = bytes[20...].prefix(9)
            var scale: Int64 = 100_000_000
            for digit in digits {
                guard digit >= 0x30 && digit <= 0x39 else { return nil }
                nanoseconds += Int64(digit - 0x30) * scale
                scale /= 10
            }
        }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        return Timestamp(seconds: Int64(timegm(&parts)), nanoseconds: nanoseconds)
    }
}
