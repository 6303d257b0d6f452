import SyncCore
import Testing

@Suite("Relative paths")
struct RelativePathTests {
    static let awkwardNames: [[UInt8]] = [
        Array("plain.txt".utf8),
        Array("emoji 🎉 ü".utf8),
        [0x62, 0x61, 0x64, 0xFF, 0xFE],  // invalid UTF-8
        Array("new\nline".utf8),
        Array("-leading-dash".utf8),
        Array("back\\slash \\x41".utf8),
        Array("quote' \"); DROP TABLE sync_operations;--".utf8),
        [0xED, 0xA0, 0x80],  // an encoded UTF-16 surrogate: not valid UTF-8
        [0xC0, 0xAF],  // overlong encoding of '/'
        [UInt8](repeating: 0x61, count: 255),
        [0xF0, 0x9F, 0x98],  // truncated 4-byte sequence
        Array("tab\there\u{7F}".utf8),
    ]

    @Test(arguments: awkwardNames)
    func escapingRoundTrips(_ name: [UInt8]) throws {
        let path = RelativePath.root.appending(Array("dir".utf8)).appending(name)
        let text = path.escaped
        #expect(!text.contains("\n"))
        #expect(text.utf8.allSatisfy { $0 >= 0x20 && $0 != 0x7F })
        let restored = try #require(RelativePath(escaped: text))
        #expect(restored == path)
    }

    @Test func escapedFormIsReadable() {
        #expect(RelativePath(unchecked: [0x61, 0xFF]).escaped == "a\\xff")
        #expect(RelativePath("a\\b").escaped == "a\\\\b")
        #expect(RelativePath("line\nbreak").escaped == "line\\x0abreak")
        #expect(RelativePath("ünïcödé").escaped == "ünïcödé")
    }

    @Test func malformedEscapesAreRejected() {
        #expect(RelativePath(escaped: "trailing\\") == nil)
        #expect(RelativePath(escaped: "bad\\q") == nil)
        #expect(RelativePath(escaped: "short\\x4") == nil)
    }

    @Test func components() {
        let path = RelativePath("a/b/c")
        #expect(path.parent == RelativePath("a/b"))
        #expect(path.lastComponent == Array("c".utf8))
        #expect(path.depth == 3)
        #expect(RelativePath("a").parent == .root)
        #expect(RelativePath.root.appending(Array("x".utf8)) == RelativePath("x"))
        #expect(RelativePath.root.depth == 0)
    }

    @Test func cStringOfTheRootIsDot() {
        let text = RelativePath.root.withCString { String(cString: $0) }
        #expect(text == ".")
        #expect(RelativePath("a/b").withCString { String(cString: $0) } == "a/b")
    }

    @Test func temporaryNamesAreRecognisedAndFixedLength() {
        let name = TemporaryName.make()
        #expect(TemporaryName.matches(name))
        #expect(name.count == TemporaryName.prefix.count + 16)
        #expect(!TemporaryName.matches(Array(".ha-sync-tmp.".utf8)))
        #expect(!TemporaryName.matches(Array("ha-sync-tmp.x".utf8)))
        #expect(TemporaryName.make() != name)
    }
}

@Suite("Stored path form")
struct StoredPathFormTests {
    @Test(
        arguments: [
            // name bytes, stored text, escaped
            (Array("plain/name.txt".utf8), "plain/name.txt", false),
            (Array("quo\"te\\back.txt".utf8), "quo\"te\\back.txt", false),
            (Array("emoji 🎉/ünï".utf8), "emoji 🎉/ünï", false),
            ([0x61, 0x0A, 0x62], "a\\x0ab", true),
            ([0x61, 0x5C, 0x09], "a\\\\\\x09", true),
            ([0x69, 0xE9, 0xFF], "i\\xe9\\xff", true),
            ([0x7F], "\\x7f", true),
        ] as [([UInt8], String, Bool)])
    func namesAreStoredAsTheyAreUnlessTheyCannotBe(bytes: [UInt8], text: String, escaped: Bool) {
        let stored = RelativePath(unchecked: bytes).storedForm
        #expect(stored.text == text)
        #expect(stored.escaped == escaped)
        #expect(RelativePath.bytes(stored: stored.text, escaped: stored.escaped) == bytes)
    }

    @Test func displayTextDecodesEscapedRowsWhereTheNameIsText() {
        #expect(RelativePath.displayText(stored: "quo\"te\\\\back.txt", escaped: true) == "quo\"te\\back.txt")
        #expect(RelativePath.displayText(stored: "new\\x0aline", escaped: true) == "new\\x0aline")
        #expect(RelativePath.displayText(stored: "as\\is", escaped: false) == "as\\is")
    }
}
