import Foundation

/// Catches a source and destination that are the same directory or nest inside each other:
/// syncing those would copy a tree into itself or delete from the tree being read.
enum PathOverlap {
    /// A user-facing message when the two paths overlap, else `nil`. Existing directories are
    /// compared by their real paths too, so a symlinked alias is caught.
    static func check(source: String, destination: String) -> String? {
        let lexical = (normalize(source), normalize(destination))
        if let message = compare(lexical.0, lexical.1) { return message }
        if let realSource = realPath(source), let realDestination = realPath(destination) {
            return compare(realSource, realDestination)
        }
        return nil
    }

    private static func compare(_ source: String, _ destination: String) -> String? {
        if source == destination { return "--src and --dest are the same directory (\(source))" }
        if isInside(destination, source) { return "--dest (\(destination)) is inside --src (\(source))" }
        if isInside(source, destination) { return "--src (\(source)) is inside --dest (\(destination))" }
        return nil
    }

    private static func isInside(_ inner: String, _ outer: String) -> Bool {
        outer == "/" ? inner != "/" : inner.hasPrefix(outer + "/")
    }

    /// Removes `.` components, empty components and trailing slashes; resolves `..` lexically.
    static func normalize(_ path: String) -> String {
        var parts: [Substring] = []
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch component {
            case ".": continue
            case "..": _ = parts.popLast()
            default: parts.append(component)
            }
        }
        return "/" + parts.joined(separator: "/")
    }

    private static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
