import Foundation
import RemoteClient
import RemoteProtocol
import SyncCore
import SyncTestSupport
import SyncTrees
import Testing

/// The peer's listings arrive in one streamed `walk` rather than one request per folder; a
/// folder this client changes is listed afresh, never from the walk.
@Suite("Listings walked ahead from a peer", .serialized)
struct ListingWalkTests {
    let tree: TemporaryTree
    let local: String
    let exported: String

    init() throws {
        tree = try TemporaryTree("walk")
        local = try tree.directory("local")
        exported = try tree.directory("exported")
    }

    @Test func aRunWithNothingToDoListsThePeerInOneRequest() async throws {
        let server = try await ServeProcess(directory: try tree.directory("serve"), roots: ["data=\(exported)"])
        try await server.start()
        defer { Task { await server.stop() } }
        for folder in 0..<40 {
            for file in 0..<3 { try TemporaryTree.write(local, RelativePath("f\(folder)/sub/file\(file).txt"), Array("\(folder)-\(file)".utf8)) }
        }
        func run(_ extra: [String] = []) async throws -> HASyncProcess.Outcome {
            try await HASyncProcess.run(
                ["--src", local, "--dest", server.url("data"), "--pair", "walk", "--log-dir", tree.root + "/logs", "--output", "json"]
                    + server.clientArguments + extra)
        }
        let first = try await run()
        #expect(first.status == 0, "\(first.stderr)")

        let (listsBefore, walksBefore) = (try await server.requests("list"), try await server.requests("walk"))
        let quiet = try await run()
        #expect(quiet.status == 0, "\(quiet.stderr)")
        #expect(quiet.summary?["created"] as? Int == 0 && quiet.summary?["updated"] as? Int == 0)
        #expect(try await server.requests("walk") - walksBefore == 1)
        #expect(try await server.requests("list") - listsBefore == 0, "81 folders, all from the walk")

        // Changes still land, and what the walk saw does not hide them.
        try TemporaryTree.write(local, "f7/sub/file1.txt", "changed", modified: Timestamp(seconds: 1_900_000_000))
        try FileManager.default.removeItem(atPath: local + "/f9/sub/file2.txt")
        let changed = try await run(["--delete-missing"])
        #expect(changed.status == 0, "\(changed.stderr)")
        #expect(changed.summary?["updated"] as? Int == 1 && changed.summary?["deleted"] as? Int == 1)
        #expect(try TreeSnapshot(local) == TreeSnapshot(exported))
    }

    @Test func aFolderThisClientChangedIsListedAfreshNotFromTheWalk() async throws {
        let server = try await ServeProcess(directory: try tree.directory("serve"), roots: ["data=\(exported)"])
        try await server.start()
        defer { Task { await server.stop() } }
        for folder in ["a", "b", "c"] { try TemporaryTree.write(exported, RelativePath("\(folder)/old.txt"), Array(folder.utf8)) }
        let connection = try RemoteConnection(
            url: try RemoteURL(parsing: server.url("data")), tokenFile: server.tokenFile, trustFile: server.caFile)
        defer { connection.shutdown() }
        let remote = try RemoteTree(connection: connection)

        let root = try remote.list(.root)
        #expect(root.entries.map { String(decoding: $0.name, as: UTF8.self) } == ["a", "b", "c"])
        // Changed behind the walk's back (by another writer): the walk's listing is as old as
        // one fetched when the walk read it, and this client takes it.
        try TemporaryTree.write(exported, "b/other.txt", "b")
        try await Task.sleep(for: .milliseconds(200))  // the walk has read everything by now
        // Changed by this client: listed afresh.
        try remote.makeDirectory(RelativePath("a/new"), replacing: nil)
        let listsBefore = try await server.requests("list")
        let a = try remote.list(RelativePath("a"))
        #expect(a.entries.map { String(decoding: $0.name, as: UTF8.self) } == ["new", "old.txt"])
        #expect(try await server.requests("list") - listsBefore == 1, "a was changed here, so listed again")
        let b = try remote.list(RelativePath("b"))
        #expect(b.entries.map { String(decoding: $0.name, as: UTF8.self) } == ["old.txt"], "b came from the walk")
        #expect(try await server.requests("list") - listsBefore == 1)
        // Each listing is handed out once; asked again, a folder is listed afresh.
        let bAgain = try remote.list(RelativePath("b"))
        #expect(bAgain.entries.count == 2)
        #expect(try await server.requests("list") - listsBefore == 2)
        #expect(try await server.requests("walk") == 1)
    }
}
