import Foundation
import RemoteProtocol
import SyncCore
import SyncTestSupport
import SyncTrees
import Testing

@testable import RemoteClient

/// Calls that answer for many paths in one exchange with a real `ha-sync serve`: the digests
/// of a folder's comparisons and the directories a run finished.
@Suite("Exchanges for many paths with a peer", .serialized)
struct PeerExchangesTests {
    let tree: TemporaryTree
    let local: String
    let exported: String

    init() throws {
        tree = try TemporaryTree("exchanges")
        local = try tree.directory("local")
        exported = try tree.directory("exported")
    }

    @Test func aFoldersComparisonsTakeOneDigestRequestAndFinishedFoldersShareTheirs() async throws {
        let server = try await ServeProcess(directory: try tree.directory("serve"), roots: ["data=\(exported)"])
        try await server.start()
        defer { Task { await server.stop() } }
        let before = Timestamp(seconds: 1_800_000_000)
        for folder in 0..<12 {
            for file in 0..<3 { try TemporaryTree.write(local, "d\(folder)/f\(file)", "old-\(folder)-\(file)", modified: before) }
        }
        func run() async throws -> HASyncProcess.Outcome {
            try await HASyncProcess.run(
                ["--src", local, "--dest", server.url("data"), "--pair", "exchanges", "--log-dir", tree.root + "/logs", "--output", "json"]
                    + server.clientArguments)
        }
        let first = try await run()
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try TreeSnapshot(local) == TreeSnapshot(exported))
        #expect(try await server.requests("mkdir") == 0)
        #expect(try await server.requests("mkdirs") == 1, "the root's 12 new folders in one request")

        // Every file newer with the same size: two of each folder's three really changed.
        let after = Timestamp(seconds: 1_900_000_000)
        for folder in 0..<12 {
            for file in 0..<3 {
                try TemporaryTree.write(local, "d\(folder)/f\(file)", "\(file < 2 ? "new" : "old")-\(folder)-\(file)", modified: after)
            }
        }
        let (md5Before, digestsBefore, finishBefore, finishesBefore) = (
            try await server.requests("md5"), try await server.requests("digests"),
            try await server.requests("finish-dir"), try await server.requests("finish-dirs")
        )
        let changed = try await run()
        #expect(changed.status == 0, "\(changed.stderr)")
        #expect(changed.summary?["updated"] as? Int == 36)
        #expect(try TreeSnapshot(local) == TreeSnapshot(exported), "content, mtimes and folders' times alike")
        #expect(try await server.requests("md5") - md5Before == 0)
        #expect(try await server.requests("digests") - digestsBefore == 12, "one per folder, not one per file")
        #expect(try await server.requests("finish-dir") - finishBefore == 0)
        let finishes = try await server.requests("finish-dirs") - finishesBefore
        #expect(finishes >= 1 && finishes < 12, "12 changed folders finished in \(finishes) requests")
    }

    @Test func eachPathGetsItsOwnOutcome() async throws {
        let server = try await ServeProcess(directory: try tree.directory("serve"), roots: ["data=\(exported)", "frozen=\(local):ro"])
        try await server.start()
        defer { Task { await server.stop() } }
        try TemporaryTree.write(exported, "a/one", "one")
        try TemporaryTree.write(exported, "a/two", "two")
        try FileManager.default.createDirectory(atPath: local + "/kept", withIntermediateDirectories: true)
        let connection = try RemoteConnection(
            url: try RemoteURL(parsing: server.url("data")), tokenFile: server.tokenFile, trustFile: server.caFile)
        defer { connection.shutdown() }
        let remote = try RemoteTree(connection: connection)

        let digests = remote.md5s(of: [RelativePath("a/one"), RelativePath("a/missing"), RelativePath("a/two")])
        #expect(try digests[0].get() == "f97c5d29941bfb1b2fdab0874906ab82")  // MD5 of "one"
        #expect(try digests[2].get() == "b8a9f715dbb64fd5c56e7783c6820a61")  // MD5 of "two"
        #expect(throws: SyncTreeError.self) { try digests[1].get() }

        let made = remote.makeDirectories([
            NewDirectory(path: RelativePath("b")), NewDirectory(path: RelativePath("b/c")), NewDirectory(path: RelativePath("a/one")),
        ])
        #expect(made[0] == nil && made[1] == nil, "a parent, then its child, in one request")
        #expect(made[2] != nil, "a file in the way, not replaced unless asked")
        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: exported + "/b/c", isDirectory: &isDirectory) && isDirectory.boolValue)

        let modified = Timestamp(seconds: 1_700_000_000)
        let failures = remote.finishDirectories([
            FinishedDirectory(path: RelativePath("a"), permissions: 0o750, modified: modified),
            FinishedDirectory(path: RelativePath("nowhere"), permissions: 0o755, modified: modified),
        ])
        #expect(failures[0] == nil)
        #expect(failures[1] != nil)
        let attributes = try FileManager.default.attributesOfItem(atPath: exported + "/a")
        #expect((attributes[.posixPermissions] as? Int) == 0o750)
        #expect((attributes[.modificationDate] as? Date)?.timeIntervalSince1970 == 1_700_000_000)

        // A read-only root refuses the whole request, and each folder hears why.
        let frozenConnection = try RemoteConnection(
            url: try RemoteURL(parsing: server.url("frozen")), tokenFile: server.tokenFile, trustFile: server.caFile)
        defer { frozenConnection.shutdown() }
        let frozen = try RemoteTree(connection: frozenConnection)
        let refused = frozen.finishDirectories([
            FinishedDirectory(path: RelativePath("kept"), permissions: 0o700, modified: modified),
            FinishedDirectory(path: RelativePath("kept"), permissions: 0o700, modified: modified),
        ])
        #expect(refused.count == 2)
        #expect(refused.allSatisfy { "\($0.map { "\($0)" } ?? "")".contains("read-only") }, "\(refused)")
        let notMade = frozen.makeDirectories([NewDirectory(path: RelativePath("new1")), NewDirectory(path: RelativePath("new2"))])
        #expect(notMade.allSatisfy { "\($0.map { "\($0)" } ?? "")".contains("read-only") }, "\(notMade)")
        #expect(!FileManager.default.fileExists(atPath: local + "/new1"))
        #expect((try FileManager.default.attributesOfItem(atPath: local + "/kept")[.posixPermissions] as? Int) != 0o700)
    }

    @Test func versionsAreKeptInOneRequestEachWithItsOwnOutcome() async throws {
        let server = try await ServeProcess(directory: try tree.directory("serve"), roots: ["data=\(exported)", "frozen=\(local):ro"])
        try await server.start()
        defer { Task { await server.stop() } }
        for name in ["one", "two", "three"] { try TemporaryTree.write(exported, "a/\(name)", name) }
        try TemporaryTree.write(local, "kept", "kept")
        let connection = try RemoteConnection(
            url: try RemoteURL(parsing: server.url("data")), tokenFile: server.tokenFile, trustFile: server.caFile)
        defer { connection.shutdown() }
        let remote = try RemoteTree(connection: connection)
        func entry(_ path: String) throws -> Entry { try #require(try remote.entry(at: RelativePath(path))) }
        var changed = try entry("a/two")
        changed.size += 1  // listed before someone saved it: no longer what is there

        let version = { (name: String) in RelativePath(".ha-sync-versions/a/\(name)~20261203T150000Z") }
        let outcomes = remote.keepVersions([
            VersionToKeep(path: RelativePath("a/one"), versionPath: version("one"), expected: try entry("a/one"), keepOriginal: true),
            VersionToKeep(path: RelativePath("a/two"), versionPath: version("two"), expected: changed, keepOriginal: true),
            VersionToKeep(path: RelativePath("a/three"), versionPath: version("three"), expected: try entry("a/three"), keepOriginal: false),
            VersionToKeep(path: RelativePath("a/one"), versionPath: version("one"), expected: try entry("a/one"), keepOriginal: true),
        ])
        #expect(try outcomes[0].get() == true, "linked: the original stays at its name")
        #expect(throws: SyncTreeError.self) { try outcomes[1].get() }
        #expect((outcomes[1].error as? SyncTreeError)?.code == .targetChanged)
        #expect(try outcomes[2].get() == false, "moved away")
        #expect((outcomes[3].error as? SyncTreeError)?.code == .alreadyExists, "a version name is never replaced")
        #expect(try await server.requests("keep-versions") == 1)
        #expect(try await server.requests("keep-version") == 0)
        #expect(try String(contentsOfFile: exported + "/.ha-sync-versions/a/one~20261203T150000Z", encoding: .utf8) == "one")
        #expect(try String(contentsOfFile: exported + "/a/one", encoding: .utf8) == "one")
        #expect(try String(contentsOfFile: exported + "/.ha-sync-versions/a/three~20261203T150000Z", encoding: .utf8) == "three")
        #expect(!FileManager.default.fileExists(atPath: exported + "/a/three"))
        #expect(!FileManager.default.fileExists(atPath: exported + "/.ha-sync-versions/a/two~20261203T150000Z"))

        // A read-only root refuses them all.
        let frozenConnection = try RemoteConnection(
            url: try RemoteURL(parsing: server.url("frozen")), tokenFile: server.tokenFile, trustFile: server.caFile)
        defer { frozenConnection.shutdown() }
        let frozen = try RemoteTree(connection: frozenConnection)
        let kept = try #require(try frozen.entry(at: RelativePath("kept")))
        let refused = frozen.keepVersions([
            VersionToKeep(path: RelativePath("kept"), versionPath: RelativePath(".ha-sync-versions/kept~1"), expected: kept, keepOriginal: true),
            VersionToKeep(path: RelativePath("kept"), versionPath: RelativePath(".ha-sync-versions/kept~2"), expected: kept, keepOriginal: false),
        ])
        #expect(refused.allSatisfy { "\($0.error.map { "\($0)" } ?? "")".contains("read-only") }, "\(refused)")
        #expect(!FileManager.default.fileExists(atPath: local + "/.ha-sync-versions"))
    }

    @Test func aServerOfAnotherProtocolVersionIsRefusedByName() throws {
        let url = try RemoteURL(parsing: "hasync://peer.example:7443/photos")
        #expect(throws: Never.self) { try RemoteTree.checkProtocol(UInt64(RemoteOperation.protocolVersion), of: url) }
        let refusal = #expect(throws: RemoteError.self) { try RemoteTree.checkProtocol(4, of: url) }
        #expect(
            refusal?.description
                == "hasync://peer.example:7443/photos speaks protocol version 4, this client \(RemoteOperation.protocolVersion): "
                + "run the same ha-sync version on both ends")
    }

    @Test func aSubtreeIsListedInOneWalk() async throws {
        let server = try await ServeProcess(directory: try tree.directory("serve"), roots: ["data=\(exported)"])
        try await server.start()
        defer { Task { await server.stop() } }
        for path in ["store/a/one~1", "store/a/b/two~2", "store/c/three~3", "store/c/d/e/four~4", "elsewhere/five"] {
            try TemporaryTree.write(exported, path, path)
        }
        let connection = try RemoteConnection(
            url: try RemoteURL(parsing: server.url("data")), tokenFile: server.tokenFile, trustFile: server.caFile)
        defer { connection.shutdown() }
        let remote = try RemoteTree(connection: connection)
        let (walksBefore, listsBefore) = (try await server.requests("walk"), try await server.requests("list"))
        var seen: [String: [String]] = [:]
        remote.visitListings(under: RelativePath("store")) { folder, listing in
            seen[folder.escaped] = listing.entries.map { String(decoding: $0.name, as: UTF8.self) }
        }
        #expect(
            seen == [
                "store": ["a", "c"], "store/a": ["b", "one~1"], "store/a/b": ["two~2"], "store/c": ["d", "three~3"], "store/c/d": ["e"],
                "store/c/d/e": ["four~4"],
            ])
        #expect(try await server.requests("walk") - walksBefore == 1, "six folders in one request")
        #expect(try await server.requests("list") - listsBefore == 0)
    }
}

extension Result {
    /// The error of a failure, `nil` for a success.
    fileprivate var error: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
