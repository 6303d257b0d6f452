import Foundation
import SyncCore
import Testing

@testable import HASyncCommand

/// `--output json` writes an operation's line with the fast flat writer: it must still be
/// JSON that any parser reads back, with odd names intact.
@Suite("Operation lines of --output json")
struct OperationJSONLineTests {
    @Test func aLineParsesBackWithEveryField() throws {
        let name: [UInt8] = Array("say \"hi\"\\\n\t".utf8) + [0xFF] + Array("/ é".utf8)
        let result = OperationResult(
            path: RelativePath("dir").appending(name), action: .update(.contentDiffers), kind: .file, sizeBefore: 3, sizeAfter: 12,
            md5Before: "aa", md5After: "bb", startedAt: Timestamp(seconds: 1), endedAt: Timestamp(seconds: 2), status: .failed,
            errorMessage: "disk \"full\"", bytesTransferred: 9_007_199_254_740_993)
        let line = ConsoleObserver.jsonLine(result, dryRun: true, destination: "/mnt/b")
        #expect(!line.contains("\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["type"] as? String == "operation")
        #expect(object["path"] as? String == result.path.escaped)
        #expect(object["operation"] as? String == "update")
        #expect(object["reason"] as? String == "content differs")
        #expect(object["status"] as? String == "fail")
        #expect(object["error"] as? String == "disk \"full\"")
        #expect(object["dest"] as? String == "/mnt/b")
        #expect(object["dry_run"] as? Bool == true)
        #expect(object["size_before"] as? Int == 3 && object["size_after"] as? Int == 12)
        #expect(object["md5_before"] as? String == "aa" && object["md5_after"] as? String == "bb")
        #expect((object["bytes_transferred"] as? NSNumber)?.int64Value == 9_007_199_254_740_993)
        #expect(object["conflict"] == nil && object["direction"] == nil, "absent fields are left out")
        #expect(line.hasPrefix("{\"bytes_transferred\":") && line.hasSuffix("\"type\":\"operation\"}"), "keys in name order")
    }
}
