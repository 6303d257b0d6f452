#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One include or exclude rule, gitignore-style, matched against the bytes of a relative path.
///
/// - `*` matches within one name, `**` across folders, `?` one byte, `[...]` a class
///   (`[!...]` or `[^...]` negated, ranges like `a-z`).
/// - A pattern with a `/` before its end is anchored at the root (a leading `/` only
///   anchors); without one it matches a name at any depth.
/// - A trailing `/` matches folders only.
public struct FilterRule: Sendable, Hashable, CustomStringConvertible {
    public enum Action: Sendable, Hashable { case include, exclude }

    public var action: Action
    /// The rule as the user wrote it (`- *.tmp`), and where (`--exclude`, `.ha-sync-ignore:3`).
    public var text: String
    public var origin: String
    let pattern: [UInt8]
    let anchored: Bool
    let directoryOnly: Bool
    let shape: Shape
    /// For an anchored pattern without `**`: the only depth (components) it can match at.
    let depth: Int?

    /// Fast paths for the common forms; everything else goes through the glob matcher.
    enum Shape: Sendable, Hashable {
        case literal
        case suffix([UInt8])  // `*.tmp`
        case prefix([UInt8])  // `.Trash-*`
        case glob
    }

    /// Parses one pattern; `nil` for an empty one.
    public init?(_ action: Action, pattern text: String, origin: String) {
        var bytes = Array(text.utf8)
        var directoryOnly = false
        while bytes.last == UInt8(ascii: "/") {
            directoryOnly = true
            bytes.removeLast()
        }
        var anchored = bytes.dropLast().contains(UInt8(ascii: "/")) || bytes.first == UInt8(ascii: "/")
        while bytes.first == UInt8(ascii: "/") { bytes.removeFirst() }
        if bytes.starts(with: Array("**/".utf8)) && !bytes.dropFirst(3).contains(UInt8(ascii: "/")) {
            // `**/name` is a name at any depth.
            bytes.removeFirst(3)
            anchored = false
        }
        guard !bytes.isEmpty else { return nil }
        self.action = action
        self.text = (action == .include ? "+ " : "- ") + text
        self.origin = origin
        self.pattern = bytes
        self.anchored = anchored
        self.directoryOnly = directoryOnly
        let components = bytes.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        self.depth = anchored && !components.contains { $0.elementsEqual("**".utf8) } ? components.count : nil
        let wild: (UInt8) -> Bool = { $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "[") || $0 == UInt8(ascii: "\\") }
        if !bytes.contains(where: wild) {
            shape = .literal
        } else if bytes.first == UInt8(ascii: "*"), !bytes.dropFirst().contains(where: wild) {
            shape = .suffix(Array(bytes.dropFirst()))
        } else if bytes.last == UInt8(ascii: "*"), !bytes.dropLast().contains(where: wild) {
            shape = .prefix(Array(bytes.dropLast()))
        } else {
            shape = .glob
        }
    }

    public var description: String { "\(text) (\(origin))" }

    /// The same rule matched against names only (the folder part was decided already).
    var unanchored: FilterRule {
        FilterRule(action, bytes: pattern, directoryOnly: directoryOnly, text: text, origin: origin) ?? self
    }

    /// A name-only rule from pattern bytes, keeping the original's text for reports.
    init?(_ action: Action, bytes: [UInt8], directoryOnly: Bool, text: String, origin: String) {
        guard !bytes.isEmpty, !bytes.contains(UInt8(ascii: "/")) else { return nil }
        self.action = action
        self.text = text
        self.origin = origin
        self.pattern = bytes
        self.anchored = false
        self.directoryOnly = directoryOnly
        self.depth = nil
        self.shape = Self.shape(of: bytes)
    }

    static func shape(of bytes: [UInt8]) -> Shape {
        let wild: (UInt8) -> Bool = { $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "[") || $0 == UInt8(ascii: "\\") }
        if !bytes.contains(where: wild) { return .literal }
        if bytes.first == UInt8(ascii: "*"), !bytes.dropFirst().contains(where: wild) { return .suffix(Array(bytes.dropFirst())) }
        if bytes.last == UInt8(ascii: "*"), !bytes.dropLast().contains(where: wild) { return .prefix(Array(bytes.dropLast())) }
        return .glob
    }

    /// Whether `bytes` holds `part` at `offset` (a memory compare: this runs per name and rule).
    @inline(__always)
    static func equal(_ bytes: [UInt8], from offset: Int, _ part: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { whole in
            part.withUnsafeBufferPointer { part in
                part.isEmpty || memcmp(whole.baseAddress! + offset, part.baseAddress!, part.count) == 0
            }
        }
    }

    /// Whether the rule matches `path`, whose last component is `name`.
    @inline(__always)
    func matches(path: [UInt8], name: [UInt8], isDirectory: Bool) -> Bool {
        if directoryOnly && !isDirectory { return false }
        let subject = anchored ? path : name
        switch shape {
        case .literal: return subject == pattern
        case .suffix(let suffix):
            // The `*` stands for bytes within one name: no `/` in what it covers.
            guard subject.count >= suffix.count, Self.equal(subject, from: subject.count - suffix.count, suffix) else { return false }
            return !anchored || !subject.dropLast(suffix.count).contains(UInt8(ascii: "/"))
        case .prefix(let prefix):
            guard subject.count >= prefix.count, Self.equal(subject, from: 0, prefix) else { return false }
            return !anchored || !subject.dropFirst(prefix.count).contains(UInt8(ascii: "/"))
        case .glob: return Glob.match(pattern[...], subject[...])
        }
    }
}

/// An ordered list of rules: the first that matches decides; no match means included.
public struct FilterRules: Sendable, Hashable {
    public var rules: [FilterRule]

    public init(_ rules: [FilterRule] = []) {
        self.rules = rules
    }

    public var isEmpty: Bool { rules.isEmpty }

    /// The rule that excludes `path`, or `nil` when it is included.
    public func excludingRule(_ path: RelativePath, isDirectory: Bool) -> FilterRule? {
        excludingRule(in: path.parent, name: path.lastComponent, isDirectory: isDirectory)
    }

    /// The rule that excludes `name` in `directory`, or `nil`. The full path is built only
    /// when an anchored rule needs it (most rules look at the name alone), and an anchored rule
    /// is skipped at depths it cannot match. `depth` is the directory's (``RelativePath/depth``),
    /// passed in so a listing computes it once.
    public func excludingRule(in directory: RelativePath, depth: Int? = nil, name: [UInt8], isDirectory: Bool) -> FilterRule? {
        guard !rules.isEmpty else { return nil }
        let entryDepth = (depth ?? directory.depth) + 1
        var path: [UInt8]?
        return rules.withUnsafeBufferPointer { rules -> FilterRule? in
            for index in rules.indices {
                if rules[index].directoryOnly && !isDirectory { continue }
                let matched: Bool
                if rules[index].anchored {
                    if let depth = rules[index].depth, depth != entryDepth { continue }
                    if path == nil { path = directory.appending(name).bytes }
                    matched = rules[index].matches(path: path!, name: name, isDirectory: isDirectory)
                } else {
                    matched = rules[index].matches(path: [], name: name, isDirectory: isDirectory)
                }
                if matched { return rules[index].action == .exclude ? rules[index] : nil }
            }
            return nil
        }
    }

    /// The rules as they apply to the entries of one folder: what depends on the folder's path
    /// is decided once here, so each entry costs a name comparison per rule that can match.
    public func inFolder(_ directory: RelativePath) -> FolderRules {
        FolderRules(rules: rules, directory: directory)
    }

    /// The per-tree ignore file at each side's root, honoured on both sides and synced itself.
    public static let ignoreFileName = ".ha-sync-ignore"

    /// Parses rule lines (`- pattern`, `+ pattern`, `#` comments, blank lines); a bare
    /// pattern excludes, as in `.gitignore`. Errors name the line.
    public static func parse(lines text: String, origin: String) throws(FilterError) -> [FilterRule] {
        var rules: [FilterRule] = []
        // `\r\n` is one Character in Swift, and a newline: Windows line ends split the same way.
        for (index, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) || line.hasPrefix("#") { continue }
            let place = "\(origin):\(index + 1)"
            let action: FilterRule.Action
            var pattern: Substring
            if line.hasPrefix("- ") || line.hasPrefix("+ ") {
                action = line.hasPrefix("+") ? .include : .exclude
                pattern = line.dropFirst(2)
            } else if line.hasPrefix("-") || line.hasPrefix("+") {
                throw FilterError("\(place): a rule is '- pattern' or '+ pattern' (a space after the sign), got '\(line)'")
            } else {
                action = .exclude
                pattern = line
            }
            while pattern.last == " " { pattern = pattern.dropLast() }
            guard let rule = FilterRule(action, pattern: String(pattern), origin: place) else {
                throw FilterError("\(place): empty pattern")
            }
            rules.append(rule)
        }
        return rules
    }

    /// A short, stable fingerprint of the rules (FNV-1a of their text), for the audit trail.
    public var fingerprint: String {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for rule in rules {
            for byte in rule.text.utf8 + [0x0A] {
                hash ^= UInt64(byte)
                hash = hash &* 0x100_0000_01B3
            }
        }
        let hex = Array("0123456789abcdef".utf8)
        return String(decoding: stride(from: 60, through: 0, by: -4).map { hex[Int((hash >> UInt64($0)) & 0xF)] }, as: UTF8.self)
    }
}

/// ``FilterRules`` for the entries of one folder (``FilterRules/inFolder(_:)``).
public struct FolderRules: Sendable {
    enum Test: Sendable {
        /// Cannot match anything in this folder.
        case never
        /// Matches every entry (of the right kind): the folder is inside what the rule names.
        case always
        /// Matches entries whose name matches this (unanchored) rule.
        case name(FilterRule)
        /// Matches entries whose full path matches the rule (the general case).
        case path(FilterRule)
    }

    let rules: [FilterRule]
    /// Per rule: how it is tested here (``never``, ``always``, ``byName``, ``byPath``), and the
    /// rule to test (a name-only form where the folder part was decided already).
    let matchers: [FilterRule]
    let compact: [Compact]
    let patternBytes: [UInt8]
    let directory: RelativePath

    init(rules: [FilterRule], directory: RelativePath) {
        self.rules = rules
        self.directory = directory
        let folder = directory.bytes[...]
        let tests: [Test] = rules.map { rule in
            guard rule.anchored else { return .name(rule) }
            let pattern = rule.pattern
            let slash = UInt8(ascii: "/")
            guard let last = pattern.lastIndex(of: slash) else {
                // `/name`: entries of the root only.
                return directory.isRoot ? .name(rule.unanchored) : .never
            }
            let head = pattern[..<last]
            let tail = pattern[(last + 1)...]
            if tail.elementsEqual("**".utf8) {
                // `P/**`: everything inside a folder that matches P, at any depth.
                guard !directory.isRoot else { return .path(rule) }
                return Glob.match(head, folder) || Glob.match(pattern[...], folder) ? .always : .never
            }
            if tail.windows(of: 2).contains(where: { $0.elementsEqual("**".utf8) }) { return .path(rule) }
            // `P/name`: the folder must match P (decided once), each entry the last part. A P
            // ending in `/**` also matches no folder at all (`a/**/b` matches `a/b`).
            guard !directory.isRoot else { return .never }
            var folderMatches = Glob.match(head, folder)
            if !folderMatches && head.count >= 3 && head.suffix(3).elementsEqual("/**".utf8) {
                folderMatches = Glob.match(head.dropLast(3), folder)
            }
            guard folderMatches else { return .never }
            return FilterRule(rule.action, bytes: Array(tail), directoryOnly: rule.directoryOnly, text: rule.text, origin: rule.origin)
                .map { .name($0) } ?? .path(rule)
        }
        matchers = zip(tests, rules).map { test, rule in
            switch test {
            case .name(let matcher), .path(let matcher): matcher
            case .never, .always: rule
            }
        }
        var bytes: [UInt8] = []
        compact = zip(tests, matchers).map { test, matcher in
            let kind: UInt8 =
                switch test {
                case .never: Self.never
                case .always: Self.always
                case .name: Self.byName
                case .path: Self.byPath
                }
            var shape = Compact.glob
            var part: [UInt8] = []
            switch matcher.shape {
            case .literal:
                shape = Compact.literal
                part = matcher.pattern
            case .suffix(let suffix):
                shape = Compact.suffix
                part = suffix
            case .prefix(let prefix):
                shape = Compact.prefix
                part = prefix
            case .glob:
                break
            }
            let offset = Int32(bytes.count)
            bytes += part
            return Compact(kind: kind, shape: shape, directoryOnly: matcher.directoryOnly, offset: offset, length: Int32(part.count))
        }
        patternBytes = bytes
    }

    /// The rule that excludes `name` here, or `nil` when it is included.
    public func excludingRule(name: [UInt8], isDirectory: Bool) -> FilterRule? {
        // The common shapes are compared from plain values and one shared byte buffer: no
        // copies and no reference counting per name and rule. Globs use the rule itself.
        let decided: Int? = compact.withUnsafeBufferPointer { compact in
            patternBytes.withUnsafeBufferPointer { patterns in
                name.withUnsafeBufferPointer { nameBytes in
                    var path: [UInt8]?
                    for index in compact.indices {
                        let rule = compact[index]
                        if rule.kind == Self.never || (rule.directoryOnly && !isDirectory) { continue }
                        let matched: Bool
                        if rule.kind == Self.always {
                            matched = true
                        } else if rule.kind == Self.byName && rule.shape != Compact.glob {
                            let pattern = UnsafeBufferPointer(rebasing: patterns[Int(rule.offset)..<Int(rule.offset + rule.length)])
                            matched = Compact.match(rule.shape, pattern, nameBytes)
                        } else if rule.kind == Self.byName {
                            matched = matchers[index].matches(path: [], name: name, isDirectory: isDirectory)
                        } else {
                            if path == nil { path = directory.appending(name).bytes }
                            matched = matchers[index].matches(path: path!, name: name, isDirectory: isDirectory)
                        }
                        if matched { return index }
                    }
                    return nil
                }
            }
        }
        guard let decided, rules[decided].action == .exclude else { return nil }
        return rules[decided]
    }

    /// A rule reduced to plain values for the per-name loop.
    struct Compact {
        static let literal: UInt8 = 0
        static let suffix: UInt8 = 1
        static let prefix: UInt8 = 2
        static let glob: UInt8 = 3

        var kind: UInt8
        var shape: UInt8
        var directoryOnly: Bool
        var offset: Int32
        var length: Int32

        @inline(__always)
        static func match(_ shape: UInt8, _ pattern: UnsafeBufferPointer<UInt8>, _ name: UnsafeBufferPointer<UInt8>) -> Bool {
            switch shape {
            case literal:
                return name.count == pattern.count && (pattern.isEmpty || memcmp(name.baseAddress!, pattern.baseAddress!, pattern.count) == 0)
            case suffix:
                return name.count >= pattern.count
                    && (pattern.isEmpty || memcmp(name.baseAddress! + (name.count - pattern.count), pattern.baseAddress!, pattern.count) == 0)
            default:  // prefix
                return name.count >= pattern.count && (pattern.isEmpty || memcmp(name.baseAddress!, pattern.baseAddress!, pattern.count) == 0)
            }
        }
    }

    static let never: UInt8 = 0
    static let always: UInt8 = 1
    static let byName: UInt8 = 2
    static let byPath: UInt8 = 3
}

extension ArraySlice where Element == UInt8 {
    fileprivate func windows(of size: Int) -> [ArraySlice<UInt8>] {
        guard count >= size else { return [] }
        return (startIndex...(endIndex - size)).map { self[$0..<($0 + size)] }
    }
}

/// A filter rule that cannot be used; the message names it.
public struct FilterError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Glob matching over bytes.
enum Glob {
    static func match(_ pattern: ArraySlice<UInt8>, _ text: ArraySlice<UInt8>) -> Bool {
        var p = pattern.startIndex
        var t = text.startIndex
        while p < pattern.endIndex {
            let byte = pattern[p]
            switch byte {
            case UInt8(ascii: "*"):
                let double = p + 1 < pattern.endIndex && pattern[p + 1] == UInt8(ascii: "*")
                let rest = p + (double ? 2 : 1)
                // `**/` also matches no folder at all.
                if double && rest < pattern.endIndex && pattern[rest] == UInt8(ascii: "/") && match(pattern[(rest + 1)...], text[t...]) {
                    return true
                }
                var index = t
                while true {
                    if match(pattern[rest...], text[index...]) { return true }
                    guard index < text.endIndex else { return false }
                    if !double && text[index] == UInt8(ascii: "/") { return false }
                    index += 1
                }
            case UInt8(ascii: "?"):
                guard t < text.endIndex, text[t] != UInt8(ascii: "/") else { return false }
                p += 1
                t += 1
            case UInt8(ascii: "["):
                guard t < text.endIndex, let (matched, next) = matchClass(pattern, at: p, byte: text[t]) else {
                    // An unclosed `[` is a literal.
                    guard t < text.endIndex, text[t] == byte, closing(pattern, from: p) == nil else { return false }
                    p += 1
                    t += 1
                    continue
                }
                guard matched, text[t] != UInt8(ascii: "/") else { return false }
                p = next
                t += 1
            case UInt8(ascii: "\\") where p + 1 < pattern.endIndex:
                guard t < text.endIndex, text[t] == pattern[p + 1] else { return false }
                p += 2
                t += 1
            default:
                guard t < text.endIndex, text[t] == byte else { return false }
                p += 1
                t += 1
            }
        }
        return t == text.endIndex
    }

    private static func closing(_ pattern: ArraySlice<UInt8>, from start: Int) -> Int? {
        var index = start + 1
        if index < pattern.endIndex && (pattern[index] == UInt8(ascii: "!") || pattern[index] == UInt8(ascii: "^")) { index += 1 }
        if index < pattern.endIndex && pattern[index] == UInt8(ascii: "]") { index += 1 }
        while index < pattern.endIndex {
            if pattern[index] == UInt8(ascii: "]") { return index }
            index += 1
        }
        return nil
    }

    /// Whether `byte` is in the class starting at `start`, and the index after the class.
    private static func matchClass(_ pattern: ArraySlice<UInt8>, at start: Int, byte: UInt8) -> (Bool, Int)? {
        guard let end = closing(pattern, from: start) else { return nil }
        var index = start + 1
        var negated = false
        if pattern[index] == UInt8(ascii: "!") || pattern[index] == UInt8(ascii: "^") {
            negated = true
            index += 1
        }
        var found = false
        while index < end {
            let low = pattern[index]
            if index + 2 < end && pattern[index + 1] == UInt8(ascii: "-") {
                if byte >= low && byte <= pattern[index + 2] { found = true }
                index += 3
            } else {
                if byte == low { found = true }
                index += 1
            }
        }
        return (found != negated, end + 1)
    }
}
