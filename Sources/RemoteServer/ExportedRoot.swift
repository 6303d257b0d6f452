import RemoteProtocol

/// A tree the server exports under a name (`--root NAME=PATH[:ro]`).
public struct ExportedRoot: Sendable {
    public var name: String
    public var path: String
    public var readOnly: Bool

    public init(name: String, path: String, readOnly: Bool = false) {
        self.name = name
        self.path = path
        self.readOnly = readOnly
    }

    /// Parses `NAME=PATH`, with `:ro` at the end for a read-only root.
    public init(parsing text: String) throws {
        guard let equals = text.firstIndex(of: "=") else {
            throw ServeError("--root '\(text)' must be NAME=PATH (for example media=/data/media, or media=/data/media:ro)")
        }
        var path = String(text[text.index(after: equals)...])
        var readOnly = false
        if path.hasSuffix(":ro") {
            readOnly = true
            path.removeLast(3)
        } else if path.hasSuffix(":rw") {
            path.removeLast(3)
        }
        let name = String(text[..<equals])
        guard RemoteNames.isValid(name) else {
            throw ServeError("root name '\(name)' must be 1-64 letters, digits, '.', '_' or '-'")
        }
        guard path.hasPrefix("/") else { throw ServeError("root '\(name)': the path must be absolute, got '\(path)'") }
        self.init(name: name, path: path, readOnly: readOnly)
    }
}
