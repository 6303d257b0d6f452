import SyncCore
import Testing

/// The filter matcher as a table: rules in order, a path and its kind, the deciding rule.
@Suite("Filter rules")
struct FilterRulesTests {
    struct Row: Sendable, CustomTestStringConvertible {
        var rules: [String]
        var path: [UInt8]
        var folder = false
        /// The excluding rule's text, `nil` when included.
        var excludedBy: String?
        var testDescription: String { "\(rules) \(String(decoding: path, as: UTF8.self))\(folder ? "/" : "")" }

        init(_ rules: [String], _ path: String, folder: Bool = false, excludedBy: String?) {
            self.rules = rules
            self.path = Array(path.utf8)
            self.folder = folder
            self.excludedBy = excludedBy
        }

        init(_ rules: [String], bytes: [UInt8], excludedBy: String?) {
            self.rules = rules
            self.path = bytes
            self.excludedBy = excludedBy
        }
    }

    static let table: [Row] = [
        Row(["- *.tmp"], "a/b/file.tmp", excludedBy: "- *.tmp"),
        Row(["- *.tmp"], "a/b/file.tmp.keep", excludedBy: nil),
        Row(["- *.part"], "docs/x.part", excludedBy: "- *.part"),
        Row(["- .Trash-*"], ".Trash-1000", folder: true, excludedBy: "- .Trash-*"),
        Row(["- cache"], "deep/down/cache", folder: true, excludedBy: "- cache"),
        Row(["- /cache"], "deep/cache", folder: true, excludedBy: nil),
        Row(["- /cache"], "cache", folder: true, excludedBy: "- /cache"),
        Row(["- build/"], "src/build", folder: true, excludedBy: "- build/"),
        Row(["- build/"], "src/build", folder: false, excludedBy: nil),
        Row(["- a/*/c"], "a/b/c", excludedBy: "- a/*/c"),
        Row(["- a/*/c"], "a/b/x/c", excludedBy: nil),
        Row(["- a/**/c"], "a/b/x/c", excludedBy: "- a/**/c"),
        Row(["- a/**/c"], "a/c", excludedBy: "- a/**/c"),
        Row(["- **/node_modules"], "x/y/node_modules", folder: true, excludedBy: "- **/node_modules"),
        Row(["- db/*.sqlite-journal"], "db/main.sqlite-journal", excludedBy: "- db/*.sqlite-journal"),
        Row(["- file?.txt"], "file1.txt", excludedBy: "- file?.txt"),
        Row(["- file?.txt"], "file10.txt", excludedBy: nil),
        Row(["- [0-9]*.log"], "7days.log", excludedBy: "- [0-9]*.log"),
        Row(["- [!0-9]*.log"], "7days.log", excludedBy: nil),
        Row(["- [!0-9]*.log"], "app.log", excludedBy: "- [!0-9]*.log"),
        // First match wins: an include before an exclude keeps the path.
        Row(["+ keep.tmp", "- *.tmp"], "keep.tmp", excludedBy: nil),
        Row(["- *.tmp", "+ keep.tmp"], "keep.tmp", excludedBy: "- *.tmp"),
        Row(["+ *.jpg", "- *"], "photo.jpg", excludedBy: nil),
        Row(["+ *.jpg", "- *"], "notes.txt", excludedBy: "- *"),
        // Bytes, not text: a name that is not UTF-8 still matches.
        Row(["- *.tmp"], bytes: [0xFF, 0xFE] + Array(".tmp".utf8), excludedBy: "- *.tmp"),
        Row(["- bad?name"], bytes: Array("bad".utf8) + [0xFF] + Array("name".utf8), excludedBy: "- bad?name"),
        Row(["- *.tmp"], String(repeating: "x", count: 251) + ".tmp", excludedBy: "- *.tmp"),
        Row([], "anything", excludedBy: nil),
    ]

    @Test(arguments: table)
    func row(_ row: Row) throws {
        let rules = FilterRules(try FilterRules.parse(lines: row.rules.joined(separator: "\n"), origin: "test"))
        let decided = rules.excludingRule(RelativePath(unchecked: row.path), isDirectory: row.folder)
        #expect(decided?.text == row.excludedBy)
    }

    /// Deciding per folder (what the engines do) agrees with matching the full path, for every
    /// pattern against every path of a small tree.
    @Test func perFolderDecisionsAgreeWithFullPathMatching() throws {
        let patterns = [
            "/cache", "/cache/", "a/*/c", "a/**/c", "**/tmp/**", "a/**", "/infra/db/*.ibd", "x/y", "**/node_modules", "*.tmp", "[ab]/c*",
            "a/b/", "/a", "a/**/b/**", "*/c", "a/[!x]/c",
        ]
        let paths = [
            "a", "a/b", "a/b/c", "a/c", "a/x/c", "a/b/x/c", "cache", "x/cache", "tmp", "tmp/f", "x/tmp/f", "x/tmp/y/z", "infra/db/t.ibd",
            "infra/db/sub/t.ibd", "x/y", "q/x/y", "deep/node_modules", "f.tmp", "d/f.tmp", "b/cat", "a/b/b/c",
        ]
        for pattern in patterns {
            let rules = FilterRules(try FilterRules.parse(lines: "- " + pattern, origin: "t"))
            for path in paths {
                for folder in [false, true] {
                    let relative = RelativePath(path)
                    let whole = rules.excludingRule(relative, isDirectory: folder)?.text
                    let perFolder = rules.inFolder(relative.parent).excludingRule(name: relative.lastComponent, isDirectory: folder)?.text
                    #expect(
                        whole == perFolder,
                        "\(pattern) on \(path)\(folder ? "/" : ""): path says \(whole ?? "included"), folder says \(perFolder ?? "included")")
                }
            }
        }
    }

    @Test func ruleFilesHaveCommentsAndSayWhereAMistakeIs() throws {
        let rules = try FilterRules.parse(lines: "# caches\n- *.tmp\n\n+ important.tmp\n.DS_Store\r\n", origin: "rules.txt")
        #expect(rules.map(\.text) == ["- *.tmp", "+ important.tmp", "- .DS_Store"])
        #expect(rules[1].origin == "rules.txt:4")
        #expect(throws: FilterError.self) { _ = try FilterRules.parse(lines: "-*.tmp", origin: "f") }
        do {
            _ = try FilterRules.parse(lines: "ok\n+nospace", origin: ".ha-sync-ignore")
        } catch {
            #expect(error.message.hasPrefix(".ha-sync-ignore:2:"))
        }
        #expect(FilterRules(rules).fingerprint == FilterRules(rules).fingerprint)
        #expect(FilterRules(rules).fingerprint != FilterRules(Array(rules.dropLast())).fingerprint)
    }
}
