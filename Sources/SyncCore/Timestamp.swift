/// A file time with nanosecond precision, as `stat` reports it.
public struct Timestamp: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var seconds: Int64
    public var nanoseconds: Int64

    public init(seconds: Int64, nanoseconds: Int64 = 0) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    /// Nanoseconds since the epoch; fits an `Int64` until the year 2262.
    public var totalNanoseconds: Int64 { seconds &* 1_000_000_000 &+ nanoseconds }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        (lhs.seconds, lhs.nanoseconds) < (rhs.seconds, rhs.nanoseconds)
    }

    /// `self - other` in nanoseconds.
    public func nanoseconds(since other: Timestamp) -> Int64 {
        totalNanoseconds &- other.totalNanoseconds
    }

    /// This time moved by `delta` nanoseconds (negative: earlier).
    public func adding(nanoseconds delta: Int64) -> Timestamp {
        let total = totalNanoseconds &+ delta
        let seconds = total >= 0 ? total / 1_000_000_000 : (total - 999_999_999) / 1_000_000_000
        return Timestamp(seconds: seconds, nanoseconds: total - seconds * 1_000_000_000)
    }

    public var description: String {
        let fraction = String(nanoseconds)
        return "\(seconds).\(String(repeating: "0", count: max(0, 9 - fraction.count)))\(fraction)"
    }
}
