public import SyncCore

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
        return time.utc.formatted(separator: "T") + "." + UTCDateTime.pad(Int(time.nanoseconds / 1000), 6) + "Z"
    }

    /// Parses RFC 3339 as the API server writes it (`Z` or a numeric offset, 0-9 fractional digits).
    public init?(parsing text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, let dateTime = UTCDateTime(prefixOf: bytes), bytes[10] == 0x54 || bytes[10] == 0x74 else { return nil }
        var index = 19
        var micros: Int64 = 0
        if bytes[index] == 0x2E {
            index += 1
            var scale: Int64 = 100_000
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 {
                micros += Int64(bytes[index] - 0x30) * scale
                scale /= 10
                index += 1
            }
        }
        guard index < bytes.count else { return nil }
        var offset: Int64 = 0
        switch bytes[index] {
        case 0x5A, 0x7A:  // Z
            guard index + 1 == bytes.count else { return nil }
        case 0x2B, 0x2D:  // +hh:mm / -hh:mm
            guard bytes.count == index + 6, bytes[index + 3] == 0x3A,
                let hours = Int(String(decoding: bytes[(index + 1)..<(index + 3)], as: UTF8.self)),
                let minutes = Int(String(decoding: bytes[(index + 4)..<(index + 6)], as: UTF8.self))
            else { return nil }
            offset = Int64(hours * 3600 + minutes * 60) * (bytes[index] == 0x2B ? 1 : -1)
        default:
            return nil
        }
        self.init(microseconds: (dateTime.epochSeconds - offset) * 1_000_000 + micros)
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
