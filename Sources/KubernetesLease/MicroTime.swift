public import SyncCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Kubernetes' `MicroTime`: RFC 3339 in UTC with exactly six fractional digits,
/// e.g. `2026-11-21T07:15:00.123456Z`, the format of a Lease's `acquireTime` and `renewTime`.
public struct MicroTime: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// Microseconds since the epoch.
    public var microseconds: Int64

    public init(microseconds: Int64) {
        self.microseconds = microseconds
    }

    public init(_ timestamp: Timestamp) {
        self.microseconds = timestamp.seconds * 1_000_000 + timestamp.nanoseconds / 1000
    }

    public var timestamp: Timestamp {
        let seconds = microseconds >= 0 ? microseconds / 1_000_000 : (microseconds - 999_999) / 1_000_000
        return Timestamp(seconds: seconds, nanoseconds: (microseconds - seconds * 1_000_000) * 1000)
    }

    public func adding(seconds: Int64) -> MicroTime {
        MicroTime(microseconds: microseconds + seconds * 1_000_000)
    }

    public static func < (lhs: MicroTime, rhs: MicroTime) -> Bool { lhs.microseconds < rhs.microseconds }

    public var description: String {
        let time = timestamp
        var seconds = time_t(time.seconds)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(Int(parts.tm_year) + 1900, 4))-\(pad(Int(parts.tm_mon) + 1, 2))-\(pad(Int(parts.tm_mday), 2))T"
            + "\(pad(Int(parts.tm_hour), 2)):\(pad(Int(parts.tm_min), 2)):\(pad(Int(parts.tm_sec), 2)).\(pad(Int(time.nanoseconds / 1000), 6))Z"
    }

    /// Parses RFC 3339 as the API server writes it (`Z` or a numeric offset, 0-9 fractional digits).
    public init?(parsing text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes[4] == 0x2D, bytes[7] == 0x2D, bytes[10] == 0x54 || bytes[10] == 0x74, bytes[13] == 0x3A, bytes[16] == 0x3A
        else {
            return nil
        }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                guard bytes[index] >= 0x30, bytes[index] <= 0x39 else { return nil }
                value = value * 10 + Int(bytes[index] - 0x30)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
            let minute = number(14..<16), let second = number(17..<19)
        else { return nil }
        var index = 19
        var micros: Int64 = 0
        if index < bytes.count, bytes[index] == 0x2E {
            index += 1
            var scale: Int64 = 100_000
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 {
                micros += Int64(bytes[index] - 0x30) * scale
                scale /= 10
                index += 1
            }
        }
        guard index < bytes.count else { return nil }
        var offset = 0
        switch bytes[index] {
        case 0x5A, 0x7A:  // Z
            guard index + 1 == bytes.count else { return nil }
        case 0x2B, 0x2D:  // +hh:mm / -hh:mm
            guard bytes.count == index + 6, let hours = number((index + 1)..<(index + 3)), let minutes = number((index + 4)..<(index + 6)) else {
                return nil
            }
            offset = (hours * 3600 + minutes * 60) * (bytes[index] == 0x2B ? 1 : -1)
        default:
            return nil
        }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        let seconds = Int64(timegm(&parts)) - Int64(offset)
        self.init(microseconds: seconds * 1_000_000 + micros)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = MicroTime(parsing: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an RFC 3339 time: \(text)"))
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
