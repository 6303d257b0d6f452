/// A path inside a synced tree, relative to its root, kept as raw bytes.
///
/// File names on Linux are byte strings: they need not be valid UTF-8 and may contain
/// newlines or start with a dash. Converting them to `String` would replace invalid
/// bytes and lose the file, so the engine never does that; ``escaped`` gives a
/// reversible text form for humans, JSON and the audit store.
public struct RelativePath: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The bytes of the path, components separated by `/`, with no leading or trailing slash.
    /// Empty for the root of the tree.
    public private(set) var bytes: [UInt8]

    /// The root of a tree.
    public static let root = RelativePath(unchecked: [])

    public init(unchecked bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Builds a path from `/`-separated text. For tests and user input that is valid UTF-8.
    public init(_ string: String) {
        self.bytes = Array(string.utf8)
    }

    public var isRoot: Bool { bytes.isEmpty }

    /// The path of a child entry named `name` (one component, no `/`).
    public func appending(_ name: [UInt8]) -> RelativePath {
        if bytes.isEmpty { return RelativePath(unchecked: name) }
        var result = bytes
        result.reserveCapacity(bytes.count + 1 + name.count)
        result.append(UInt8(ascii: "/"))
        result.append(contentsOf: name)
        return RelativePath(unchecked: result)
    }

    /// The last component; empty for the root.
    public var lastComponent: [UInt8] {
        guard let slash = bytes.lastIndex(of: UInt8(ascii: "/")) else { return bytes }
        return Array(bytes[(slash + 1)...])
    }

    /// The parent directory; the root for a top-level entry and for the root itself.
    public var parent: RelativePath {
        guard let slash = bytes.lastIndex(of: UInt8(ascii: "/")) else { return .root }
        return RelativePath(unchecked: Array(bytes[..<slash]))
    }

    /// Whether this path lies strictly below `ancestor`.
    public func isDescendant(of ancestor: RelativePath) -> Bool {
        if ancestor.isRoot { return !isRoot }
        return bytes.count > ancestor.bytes.count && bytes.starts(with: ancestor.bytes) && bytes[ancestor.bytes.count] == UInt8(ascii: "/")
    }

    /// Number of components; 0 for the root.
    public var depth: Int {
        bytes.isEmpty ? 0 : bytes.reduce(1) { $1 == UInt8(ascii: "/") ? $0 + 1 : $0 }
    }

    /// Calls `body` with a NUL-terminated C string of the path (`.` for the root).
    public func withCString<Result>(_ body: (UnsafePointer<CChar>) throws -> Result) rethrows -> Result {
        if bytes.isEmpty {
            return try body(".")
        }
        return try bytes.withUnsafeBufferPointer { buffer in
            try withUnsafeTemporaryAllocation(of: CChar.self, capacity: buffer.count + 1) { cString in
                for (index, byte) in buffer.enumerated() {
                    cString[index] = CChar(bitPattern: byte)
                }
                cString[buffer.count] = 0
                return try body(UnsafePointer(cString.baseAddress!))
            }
        }
    }

    public static func < (lhs: RelativePath, rhs: RelativePath) -> Bool {
        lhs.bytes.lexicographicallyPrecedes(rhs.bytes)
    }

    public var description: String { escaped }
}
