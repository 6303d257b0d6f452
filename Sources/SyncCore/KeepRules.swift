/// One kept version of a file: when it was kept (the run's time, from its name) and its size.
public struct VersionInfo: Sendable, Hashable {
    public var time: Timestamp
    public var size: Int64

    public init(time: Timestamp, size: Int64) {
        self.time = time
        self.size = size
    }
}

/// Which kept versions stay and which go: zrepl's grid (`1x1h(keep=all) | 24x1h | 30x1d`) or
/// Syncthing's simple count (`last=10`), plus a minimum per file and a size cap per side.
///
/// A pure function of the versions and the run's clock; `KeepRulesTests` holds the table.
public struct KeepRules: Sendable, Hashable {
    /// One interval kind of a grid: `count` adjacent intervals of `seconds` each, keeping the
    /// newest `keep` versions in each (`nil`: all).
    public struct Interval: Sendable, Hashable {
        public var count: Int
        public var seconds: Int64
        public var keep: Int?

        public init(count: Int, seconds: Int64, keep: Int? = 1) {
            self.count = count
            self.seconds = seconds
            self.keep = keep
        }
    }

    public enum Rule: Sendable, Hashable {
        /// Intervals laid back from now, one after the other; a version older than all of
        /// them goes.
        case grid([Interval])
        /// The newest N versions of each file.
        case last(Int)
    }

    public var rule: Rule
    /// The newest versions of each file that are always kept, whatever the rule says.
    public var keepMin: Int
    /// The most bytes a side's version store may hold; the oldest versions go first, never
    /// below ``keepMin`` per file.
    public var maxBytes: Int64?

    /// The default for bidirectional pairs: everything from the last hour, then hourly for a
    /// day, daily for a month, monthly for a year.
    public static let defaultText = "1x1h(keep=all) | 24x1h | 30x1d | 12x30d"

    public init(rule: Rule, keepMin: Int = 1, maxBytes: Int64? = nil) {
        self.rule = rule
        self.keepMin = max(0, keepMin)
        self.maxBytes = maxBytes
    }

    /// Decides the versions of one file: `true` keeps the version at the same index.
    ///
    /// Ages are measured from each version's time to `now`. When any version is newer than
    /// `now` (the clock went backwards), nothing of the file is pruned.
    public func decide(_ versions: [VersionInfo], now: Timestamp) -> [Bool] {
        guard !versions.isEmpty else { return [] }
        if versions.contains(where: { $0.time > now }) { return Array(repeating: true, count: versions.count) }
        // Newest first.
        let order = versions.indices.sorted { versions[$0].time > versions[$1].time }
        var keep = Array(repeating: false, count: versions.count)
        switch rule {
        case .last(let count):
            for index in order.prefix(count) { keep[index] = true }
        case .grid(let intervals):
            // Bucket boundaries, as ages in seconds: [edges[i], edges[i+1]).
            var buckets: [(start: Int64, end: Int64, keep: Int?)] = []
            var edge: Int64 = 0
            for interval in intervals {
                for _ in 0..<interval.count {
                    buckets.append((edge, edge + interval.seconds, interval.keep))
                    edge += interval.seconds
                }
            }
            var kept = Array(repeating: 0, count: buckets.count)
            for index in order {
                let age = now.nanoseconds(since: versions[index].time) / 1_000_000_000
                guard let bucket = Self.bucket(age: age, in: buckets) else { continue }  // older than the grid
                let limit = buckets[bucket].keep
                if limit == nil || kept[bucket] < limit! {
                    keep[index] = true
                    kept[bucket] += 1
                }
            }
        }
        for index in order.prefix(keepMin) { keep[index] = true }
        return keep
    }

    private static func bucket(age: Int64, in buckets: [(start: Int64, end: Int64, keep: Int?)]) -> Int? {
        var low = 0
        var high = buckets.count
        while low < high {
            let middle = (low + high) / 2
            if buckets[middle].end <= age { low = middle + 1 } else { high = middle }
        }
        return low < buckets.count && buckets[low].start <= age ? low : nil
    }

    /// Applies ``maxBytes`` across a side's store after ``decide(_:now:)``: while the kept
    /// versions exceed the cap, the oldest kept version that is not among its file's newest
    /// ``keepMin`` goes. `files[i][j]` is version j of file i; `keep` is updated in place.
    public func applySizeCap(_ files: [[VersionInfo]], keep: inout [[Bool]]) {
        guard let maxBytes else { return }
        var total: Int64 = 0
        var candidates: [(file: Int, version: Int, time: Timestamp)] = []
        for (file, versions) in files.enumerated() {
            let newest = Set(versions.indices.sorted { versions[$0].time > versions[$1].time }.prefix(keepMin))
            for (index, version) in versions.enumerated() where keep[file][index] {
                total += version.size
                if !newest.contains(index) { candidates.append((file, index, version.time)) }
            }
        }
        candidates.sort { $0.time < $1.time }
        for candidate in candidates where total > maxBytes {
            keep[candidate.file][candidate.version] = false
            total -= files[candidate.file][candidate.version].size
        }
    }

    // MARK: Parsing

    /// Parses `--keep`: a grid (`1x1h(keep=all) | 24x1h | 30x1d`) or `last=N`.
    public static func parse(_ text: String) throws(KeepRulesError) -> Rule {
        let trimmed = text.trimmingSpaces
        if trimmed.hasPrefix("last=") {
            guard let count = Int(trimmed.dropFirst(5)), count >= 1 else {
                throw KeepRulesError("--keep last=N needs a whole number of at least 1, got '\(text)'")
            }
            return .last(count)
        }
        var intervals: [Interval] = []
        for part in trimmed.split(separator: "|") {
            intervals.append(try interval(String(part).trimmingSpaces, in: text))
        }
        guard !intervals.isEmpty else { throw KeepRulesError("--keep is empty; use a grid like '\(defaultText)' or last=N") }
        return .grid(intervals)
    }

    private static func interval(_ part: String, in text: String) throws(KeepRulesError) -> Interval {
        // NxDURATION or NxDURATION(keep=all|M)
        var body = Substring(part)
        var keep: Int? = 1
        if let open = body.firstIndex(of: "(") {
            guard body.hasSuffix(")") else { throw KeepRulesError("--keep: '\(part)' has an unclosed '(' in '\(text)'") }
            let option = body[body.index(after: open)..<body.index(before: body.endIndex)].trimmingSpaces
            guard option.hasPrefix("keep=") else { throw KeepRulesError("--keep: only (keep=all) or (keep=N) is known, got '(\(option))'") }
            let value = option.dropFirst(5)
            if value == "all" {
                keep = nil
            } else if let count = Int(value), count >= 1 {
                keep = count
            } else {
                throw KeepRulesError("--keep: keep= takes 'all' or a whole number of at least 1, got '\(value)'")
            }
            body = body[..<open]
        }
        let pieces = body.split(separator: "x", maxSplits: 1)
        guard pieces.count == 2, let count = Int(pieces[0].trimmingSpaces), count >= 1,
            let seconds = duration(pieces[1].trimmingSpaces)
        else {
            throw KeepRulesError("--keep: '\(part)' is not COUNTxDURATION (like 24x1h; units s, m, h, d, w) in '\(text)'")
        }
        return Interval(count: count, seconds: seconds, keep: keep)
    }

    /// `30s`, `15m`, `1h`, `1d`, `2w` in seconds.
    static func duration(_ text: String) -> Int64? {
        guard let unit = text.last, let value = Int64(text.dropLast()), value >= 1 else { return nil }
        switch unit {
        case "s": return value
        case "m": return value * 60
        case "h": return value * 3600
        case "d": return value * 86_400
        case "w": return value * 604_800
        default: return nil
        }
    }
}

/// A `--keep` value that cannot be used; the message names the problem.
public struct KeepRulesError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension StringProtocol {
    fileprivate var trimmingSpaces: String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
