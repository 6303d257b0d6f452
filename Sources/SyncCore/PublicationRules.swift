/// The order in which a destination shows new files to its readers (`--publish-after`,
/// `--publish-last`): a file that announces another (`image.json` for `image.squashfs`) goes
/// into place only once what it announces is complete there, so a reader that looks for the
/// announcement first never finds it before the data.
///
/// Deciding is pure: ``stage(of:)`` says when a path may be published, and the engine holds
/// the file back until then.
public struct PublicationRules: Sendable, Hashable {
    /// `PATTERN=DEPENDENCY`: a file matching the pattern waits for the dependency, a path
    /// relative to the file's folder in which `${stem}` (the name without its last extension)
    /// and `${name}` (the whole name) are replaced.
    public struct AfterRule: Sendable, Hashable {
        let pattern: FilterRule
        /// The dependency's template, as bytes.
        let dependency: [UInt8]
        /// The rule as the user wrote it.
        public let text: String
    }

    public var after: [AfterRule]
    /// Files matching one of these go after every other file of the run.
    public var last: [FilterRule]

    public init(after: [AfterRule] = [], last: [FilterRule] = []) {
        self.after = after
        self.last = last
    }

    public var isEmpty: Bool { after.isEmpty && last.isEmpty }

    /// When a path may be published on a destination.
    public enum Stage: Sendable, Hashable {
        /// With the rest of the run.
        case normal
        /// Once `dependency` is complete on the same destination.
        case after(dependency: RelativePath, rule: String)
        /// After everything else of the run.
        case last
    }

    /// The stage of a file (directories are always published at once: they announce nothing).
    public func stage(of path: RelativePath) -> Stage {
        let name = path.lastComponent
        for rule in after where rule.pattern.matches(path: path.bytes, name: name, isDirectory: false) {
            let dependency = Self.substitute(rule.dependency, name: name)
            guard let resolved = Self.resolve(dependency, in: path.parent), resolved != path else { continue }
            return .after(dependency: resolved, rule: rule.text)
        }
        if last.contains(where: { $0.matches(path: path.bytes, name: name, isDirectory: false) }) {
            return .last
        }
        return .normal
    }

    /// Whether a path announces others: its delete goes before the deletes of what it announces.
    public func announces(_ path: RelativePath) -> Bool {
        stage(of: path) != .normal
    }

    /// Parses `PATTERN=DEPENDENCY`.
    public static func parseAfter(_ text: String) throws(FilterError) -> AfterRule {
        guard let equals = text.firstIndex(of: "=") else {
            throw FilterError("--publish-after '\(text)' must read PATTERN=DEPENDENCY, e.g. '*.json=${stem}.squashfs'")
        }
        let patternText = String(text[..<equals])
        let dependencyText = String(text[text.index(after: equals)...])
        guard let pattern = FilterRule(.exclude, pattern: patternText, origin: "--publish-after") else {
            throw FilterError("--publish-after '\(text)': the pattern is empty")
        }
        let dependency = Array(dependencyText.utf8)
        guard !dependency.isEmpty, dependency.first != UInt8(ascii: "/") else {
            throw FilterError("--publish-after '\(text)': the dependency must be a path relative to the file's folder, e.g. ${stem}.squashfs")
        }
        let components = dependency.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        guard !components.contains(where: { $0.isEmpty || $0.elementsEqual(".".utf8) || $0.elementsEqual("..".utf8) }) else {
            throw FilterError("--publish-after '\(text)': the dependency may not contain '.', '..' or empty parts")
        }
        guard dependency != Array("${name}".utf8) else {
            throw FilterError("--publish-after '\(text)': a file cannot wait for itself")
        }
        return AfterRule(pattern: pattern, dependency: dependency, text: text)
    }

    /// Parses a `--publish-last` glob.
    public static func parseLast(_ text: String) throws(FilterError) -> FilterRule {
        guard let rule = FilterRule(.exclude, pattern: text, origin: "--publish-last") else {
            throw FilterError("--publish-last takes a pattern such as '*.json', got an empty one")
        }
        return rule
    }

    /// The template with `${stem}` and `${name}` replaced.
    static func substitute(_ template: [UInt8], name: [UInt8]) -> [UInt8] {
        let stem: [UInt8]
        if let dot = name.lastIndex(of: UInt8(ascii: ".")), dot > 0 {
            stem = Array(name[..<dot])
        } else {
            stem = name
        }
        var result: [UInt8] = []
        var index = 0
        let variables: [([UInt8], [UInt8])] = [(Array("${stem}".utf8), stem), (Array("${name}".utf8), name)]
        outer: while index < template.count {
            for (variable, value) in variables where template[index...].starts(with: variable) {
                result += value
                index += variable.count
                continue outer
            }
            result.append(template[index])
            index += 1
        }
        return result
    }

    /// The dependency as a path from the root; `nil` if a substituted name made it invalid.
    static func resolve(_ dependency: [UInt8], in folder: RelativePath) -> RelativePath? {
        var path = folder
        for component in dependency.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
            guard !component.isEmpty, !component.elementsEqual(".".utf8), !component.elementsEqual("..".utf8) else { return nil }
            path = path.appending(Array(component))
        }
        return path
    }
}
