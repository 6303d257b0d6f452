import SyncCore
import Testing

/// The keep rules as a table on a test clock, and the names of kept versions.
@Suite("Keep rules")
struct KeepRulesTests {
    static let now = Timestamp(seconds: 1_800_000_000)
    static let hour: Int64 = 3600
    static let day: Int64 = 86_400

    static func version(ageSeconds: Int64, size: Int64 = 10) -> VersionInfo {
        VersionInfo(time: Timestamp(seconds: now.seconds - ageSeconds), size: size)
    }

    static let defaultGrid = try! KeepRules.parse(KeepRules.defaultText)

    struct Row: Sendable, CustomTestStringConvertible {
        var name: String
        var rule: KeepRules.Rule
        var keepMin = 1
        var ages: [Int64]
        var expected: [Bool]
        var testDescription: String { name }
    }

    static let table: [Row] = [
        Row(name: "keep=all keeps everything in the first hour", rule: defaultGrid, ages: [0, 60, 1800, 3599], expected: [true, true, true, true]),
        Row(
            name: "one per hour after the first hour, the newest of each bucket", rule: defaultGrid, keepMin: 0,
            ages: [hour, hour + 60, 2 * hour - 1, 2 * hour], expected: [true, false, false, true]),
        Row(
            name: "bucket edges: exactly 1h is the second bucket, 25h the first daily one", rule: defaultGrid, keepMin: 0,
            ages: [hour - 1, hour, 25 * hour - 1, 25 * hour], expected: [true, true, true, true]),
        Row(
            name: "daily buckets keep one each", rule: defaultGrid, keepMin: 0,
            ages: [25 * hour + 10, 25 * hour + 20, 25 * hour + day + 5], expected: [true, false, true]),
        Row(name: "older than the whole grid goes", rule: defaultGrid, keepMin: 0, ages: [25 * hour + 30 * day + 12 * 30 * day], expected: [false]),
        Row(
            name: "keep-min keeps the newest even past the grid", rule: defaultGrid, keepMin: 1, ages: [400 * day, 500 * day],
            expected: [true, false]),
        Row(name: "last=2 keeps the two newest", rule: .last(2), keepMin: 0, ages: [50, 10, 30, 20], expected: [false, true, false, true]),
        Row(name: "keep-min beyond last=N", rule: .last(1), keepMin: 3, ages: [1, 2, 3, 4], expected: [true, true, true, false]),
        Row(
            name: "keep=2 in a bucket keeps its two newest", rule: .grid([KeepRules.Interval(count: 1, seconds: 100, keep: 2)]), keepMin: 0,
            ages: [10, 20, 30, 150], expected: [true, true, false, false]),
        Row(
            name: "a version from the future (clock went back): nothing pruned", rule: .last(1), keepMin: 0, ages: [-60, 10, 20],
            expected: [true, true, true]),
    ]

    @Test(arguments: table)
    func row(_ row: Row) {
        let rules = KeepRules(rule: row.rule, keepMin: row.keepMin)
        #expect(rules.decide(row.ages.map { Self.version(ageSeconds: $0) }, now: Self.now) == row.expected)
    }

    @Test func hundredsOfVersionsFollowTheGrid() {
        // One version every 10 minutes for 60 days.
        let versions = (0..<(60 * 144)).map { Self.version(ageSeconds: Int64($0) * 600) }
        let keep = KeepRules(rule: Self.defaultGrid, keepMin: 1).decide(versions, now: Self.now)
        // 6 in the first hour (keep=all), 24 hourly, 30 daily (up to 31 days and 1 hour), then the
        // first 30-day bucket reaches past 60 days: one more.
        let kept = keep.filter { $0 }.count
        #expect(kept == 6 + 24 + 30 + 1)
        #expect(keep[0] && keep[5])
    }

    @Test func theSizeCapDropsTheOldestButNeverBelowKeepMin() {
        let rules = KeepRules(rule: .last(10), keepMin: 1, maxBytes: 25)
        let files = [
            [Self.version(ageSeconds: 100, size: 10), Self.version(ageSeconds: 50, size: 10)],
            [Self.version(ageSeconds: 200, size: 10), Self.version(ageSeconds: 10, size: 10)],
        ]
        var keep = files.map { rules.decide($0, now: Self.now) }
        rules.applySizeCap(files, keep: &keep)
        // 40 bytes kept, cap 25: the oldest non-minimum versions go (age 200, then 100).
        #expect(keep == [[false, true], [false, true]])
        let tiny = KeepRules(rule: .last(10), keepMin: 1, maxBytes: 1)
        var all = files.map { tiny.decide($0, now: Self.now) }
        tiny.applySizeCap(files, keep: &all)
        #expect(all == [[false, true], [false, true]], "the newest of each file stays even over the cap")
    }

    @Test(arguments: [
        ("last=0", "at least 1"), ("1x1h(keep=some)", "keep= takes"), ("1y", "COUNTxDURATION"), ("2x3q", "COUNTxDURATION"), ("", "is empty"),
        ("1x1h(keep=all", "unclosed"),
    ])
    func badKeepValuesSayWhy(_ text: String, _ expected: String) {
        #expect {
            _ = try KeepRules.parse(text)
        } throws: { error in
            "\(error)".contains(expected)
        }
    }

    @Test func versionNamesRoundTripAndStayWithinNameMax() throws {
        let time = Timestamp(seconds: 1_796_206_500)  // 2026-12-02 10:15:00 UTC
        let name = VersionName.make(for: Array("report.pdf".utf8), at: time) { _ in false }
        #expect(String(decoding: name, as: UTF8.self) == "report.pdf~20261202T101500Z")
        let parsed = try #require(VersionName.parse(name))
        #expect(parsed.stem == Array("report.pdf".utf8) && parsed.time == time)
        let second = VersionName.make(for: Array("report.pdf".utf8), at: time) { $0 == name }
        #expect(String(decoding: second, as: UTF8.self) == "report.pdf~20261202T101500Z-2")
        #expect(VersionName.parse(second)?.time == time)
        let long = [UInt8](repeating: 0xE9, count: 255)
        let longVersion = VersionName.make(for: long, at: time) { _ in false }
        #expect(longVersion.count <= 255)
        #expect(VersionName.parse(longVersion)?.stem == VersionName.stem(long))
        #expect(VersionName.stem(long) == VersionName.stem(long), "deterministic")
        #expect(VersionName.stem(long) != VersionName.stem(long.dropLast() + [0x41]))
        #expect(VersionName.parse(Array("plain~file".utf8)) == nil)
    }
}
