import Foundation
import Testing

@testable import AuditLog

@Suite("Opslog JSON lines")
struct FlatJSONTests {
    static let strings = [
        "", "plain", "quote \" and backslash \\", "new\nline\ttab\r", "\u{1}\u{1F}\u{7F}", "emoji 🎉 ü",
        "'); DROP TABLE sync_operations;--", "\\x41 not an escape", "/slash/",
    ]

    @Test(arguments: strings)
    func writtenStringsParseBack(_ text: String) throws {
        var line = FlatJSONLine()
        line.add("text", text)
        line.add("number", Int64(-9_223_372_036_854_775_807))
        line.add("none", nil as String?)
        line.add("flag", true)
        let bytes = line.finish()
        #expect(bytes.last == UInt8(ascii: "\n"))
        #expect(!bytes.dropLast().contains(UInt8(ascii: "\n")), "one line, whatever the content")
        let parsed = try #require(FlatJSON.parse(bytes.dropLast()[...]))
        #expect(parsed == ["text": .string(text), "number": .integer(-9_223_372_036_854_775_807), "none": .null, "flag": .bool(true)])
        // Foundation agrees that it is valid JSON with the same string.
        let foundation = try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any]
        #expect(foundation?["text"] as? String == text)
    }

    @Test func standardEscapesAndSurrogatePairsAreRead() {
        let line = Array(#"{"a":"\u00e9\ud83c\udf89\/\b\f","b":0}"#.utf8)
        #expect(FlatJSON.parse(line[...]) == ["a": .string("é🎉/\u{8}\u{C}"), "b": .integer(0)])
    }

    @Test(arguments: [
        #"{"a":1"#, #"{"a":[1]}"#, #"{"a":{"b":1}}"#, #"{"a":1.5}"#, #"{"a":tru}"#, #"{"a":"\q"}"#, #"{"a":"\ud83c"}"#,
        "{\"a\":\"raw\ncontrol\"}", #"{"a":99999999999999999999}"#, #"{"a":1} trailing"#, #"["a"]"#, "",
    ])
    func anythingElseIsRejected(_ text: String) {
        #expect(FlatJSON.parse(Array(text.utf8)[...]) == nil)
    }
}
