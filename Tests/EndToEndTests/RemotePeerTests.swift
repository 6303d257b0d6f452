import Foundation
import NIOCore
import RemoteProtocol
import SyncCore
import SyncTestSupport
import SyncTrees
import Testing

/// The remote peer: real `ha-sync serve` processes and the real client, on loopback.
@Suite("Remote peer end to end", .serialized)
struct RemotePeerTests {
    let tree: TemporaryTree
    let local: String
    let exported: String
    let logs: String

    init() throws {
        tree = try TemporaryTree("remote")
        local = try tree.directory("local")
        exported = try tree.directory("exported")
        logs = tree.root + "/logs"
    }

    func serve(_ roots: [String]? = nil, certificateName: String = "server", certificateArguments: [String] = []) async throws -> ServeProcess {
        let server = try await ServeProcess(
            directory: try tree.directory("serve-\(UUID().uuidString.prefix(8))"), roots: roots ?? ["data=\(exported)"],
            certificateName: certificateName, certificateArguments: certificateArguments)
        try await server.start()
        return server
    }

    func sync(_ source: String, _ destination: String, _ server: ServeProcess, pair: String = "media", extra: [String] = []) async throws
        -> HASyncProcess.Outcome
    {
        try await HASyncProcess.run(
            ["--src", source, "--dest", destination, "--pair", pair, "--log-dir", logs, "--output", "json"] + server.clientArguments + extra)
    }

    @Test func initialNoChangeAndChangedRunsBothWays() async throws {
        let server = try await serve()
        defer { Task { await server.stop() } }
        let names: [[UInt8]] = [[0x69, 0x6E, 0x76, 0xE9, 0xFF], Array("new\nline".utf8), Array("-rf".utf8), Array("emoji 🎉".utf8)]
        for (index, name) in names.enumerated() {
            try TemporaryTree.write(local, RelativePath("odd").appending(name), Array("content \(index)".utf8))
        }
        for index in 0..<150 { try TemporaryTree.write(local, "many/file\(index).txt", String(repeating: "x", count: index * 37)) }
        try TemporaryTree.write(local, "deep/a/b/c/d.txt", "deep")
        try TemporaryTree.symlink(local, RelativePath("link"), target: "deep/a")
        try writeLargeFile(local + "/large.bin", size: 3 << 20, seed: 1)

        let first = try await sync(local, server.url("data"), server)
        #expect(first.status == 0, "\(first.stderr)")
        // The files, the symlink, and six directories (odd, many, deep, deep/a, deep/a/b, deep/a/b/c).
        #expect(first.summary?["created"] as? Int == names.count + 150 + 1 + 1 + 1 + 6)
        #expect(try TreeSnapshot(local) == TreeSnapshot(exported))

        let quiet = try await sync(local, server.url("data"), server)
        #expect(quiet.status == 0, "\(quiet.stderr)")
        #expect(quiet.jsonLines.filter { $0["type"] as? String == "operation" }.isEmpty)

        try TemporaryTree.write(local, "many/file3.txt", "changed", modified: Timestamp(seconds: 1_900_000_000))
        try FileManager.default.removeItem(atPath: local + "/many/file4.txt")
        let changed = try await sync(local, server.url("data"), server, extra: ["--delete-missing"])
        #expect(changed.status == 0, "\(changed.stderr)")
        #expect(changed.summary?["updated"] as? Int == 1)
        #expect(changed.summary?["deleted"] as? Int == 1)
        #expect(try TreeSnapshot(local) == TreeSnapshot(exported))

        // And back: the remote tree as the source, into an empty local folder.
        let back = try tree.directory("back")
        let pulled = try await sync(server.url("data"), back, server, pair: "back")
        #expect(pulled.status == 0, "\(pulled.stderr)")
        #expect(try TreeSnapshot(exported) == TreeSnapshot(back))
        #expect(server.log.contains(server.token) == false)
    }

    @Test func bothWaysWithAPeerChangesTravelInBatchesWithTheirVersions() async throws {
        let server = try await serve()
        defer { Task { await server.stop() } }
        for folder in 0..<4 {
            for file in 0..<10 { try TemporaryTree.write(local, "d\(folder)/f\(file).txt", "original \(folder)-\(file)") }
        }
        let first = try await sync(local, server.url("data"), server, extra: ["--bidirectional"])
        #expect(first.status == 0, "\(first.stderr)")
        let store = RelativePath(".ha-sync-versions")
        let outsideStore: (RelativePath) -> Bool = { $0 == store || $0.isDescendant(of: store) }
        #expect(try TreeSnapshot(local, ignoring: outsideStore) == TreeSnapshot(exported, ignoring: outsideStore))

        // Ten files changed here and ten others on the peer (same sizes, newer mtimes), one
        // file changed on both sides, one deleted on the peer.
        let later = Timestamp(seconds: 1_900_000_000)
        for folder in 0..<2 {
            for file in 0..<5 { try TemporaryTree.write(local, "d\(folder)/f\(file).txt", "CHANGED \(folder)-\(file)", modified: later) }
        }
        for folder in 2..<4 {
            for file in 0..<5 { try TemporaryTree.write(exported, "d\(folder)/f\(file).txt", "REMOTE! \(folder)-\(file)", modified: later) }
        }
        try TemporaryTree.write(local, "d0/f9.txt", "here", modified: later)
        try TemporaryTree.write(exported, "d0/f9.txt", "there", modified: Timestamp(seconds: 1_900_000_100))
        try FileManager.default.removeItem(atPath: exported + "/d3/f9.txt")
        var before: [String: Double] = [:]
        for operation in ["md5", "digests", "keep-version", "keep-versions", "write"] { before[operation] = try await server.requests(operation) }

        let second = try await sync(local, server.url("data"), server, extra: ["--bidirectional"])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.summary?["updated"] as? Int == 20)
        #expect(second.summary?["conflicts"] as? Int == 1)
        #expect(second.summary?["created"] as? Int == 1, "the conflict copy")
        #expect(second.summary?["deleted"] as? Int == 1)
        #expect(second.summary?["versions_kept"] as? Int == 21, "what the 20 changes replaced, and the deleted file")
        #expect(try TreeSnapshot(local, ignoring: outsideStore) == TreeSnapshot(exported, ignoring: outsideStore))
        #expect(try String(contentsOfFile: exported + "/d1/f4.txt", encoding: .utf8) == "CHANGED 1-4")
        #expect(try String(contentsOfFile: local + "/d3/f4.txt", encoding: .utf8) == "REMOTE! 3-4")
        #expect(try String(contentsOfFile: local + "/d0/f9.txt", encoding: .utf8) == "there", "the newer edit wins the name")
        let conflictCopies = try FileManager.default.contentsOfDirectory(atPath: exported + "/d0").filter { $0.hasPrefix("f9") && $0 != "f9.txt" }
        #expect(conflictCopies.count == 1, "the other edit is kept beside it: \(conflictCopies)")

        // Each side keeps what the run replaced there, with its old content.
        func versions(_ root: String, _ folder: String, _ file: String) throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: root + "/.ha-sync-versions/" + folder).filter { $0.hasPrefix(file + "~") }.map {
                try String(contentsOfFile: root + "/.ha-sync-versions/\(folder)/\($0)", encoding: .utf8)
            }
        }
        #expect(try versions(exported, "d1", "f4.txt") == ["original 1-4"])
        #expect(try versions(local, "d3", "f4.txt") == ["original 3-4"])

        // The changes to the peer went a folder's worth at a time, not one request per file.
        func added(_ operation: String) async throws -> Double { try await server.requests(operation) - before[operation]! }
        #expect(try await added("md5") <= 1, "no digest asked for on its own but the conflict's")
        #expect(try await added("keep-version") == 0, "no version kept on its own")
        #expect(try await added("keep-versions") >= 1)
        #expect(try await added("keep-versions") <= 3)
        #expect(try await added("digests") <= 6)
        #expect(try await added("write") <= 6, "ten changed files in their folders' batches (and the conflict's copies)")
        #expect(server.log.contains(server.token) == false)
    }

    @Test func aRunWithDeletesWalksThePeerOncePerPass() async throws {
        // With --delete-missing a run surveys the tree (for the guards), then walks it again
        // to sync: each pass gets its own streamed walk, not a listing request per folder.
        let server = try await serve()
        defer { Task { await server.stop() } }
        for folder in 0..<30 { try TemporaryTree.write(local, "d\(folder)/file.txt", "content \(folder)") }
        let first = try await sync(local, server.url("data"), server, extra: ["--delete-missing"])
        #expect(first.status == 0, "\(first.stderr)")
        try FileManager.default.removeItem(atPath: local + "/d7/file.txt")
        let (lists, walks) = (try await server.requests("list"), try await server.requests("walk"))
        let second = try await sync(local, server.url("data"), server, extra: ["--delete-missing"])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.summary?["deleted"] as? Int == 1)
        #expect(try await server.requests("walk") - walks == 2, "the survey's and the pass's")
        #expect(try await server.requests("list") - lists <= 1, "the folder the run changed at most, not each of 31")
        #expect(try TreeSnapshot(local) == TreeSnapshot(exported))
    }

    @Test func aSmallChangeToALargeFileSendsOnlyTheChange() async throws {
        let server = try await serve()
        defer { Task { await server.stop() } }
        let size = 16 << 20
        try writeLargeFile(local + "/image.img", size: size, seed: 7)
        let first = try await sync(local, server.url("data"), server)
        #expect(first.status == 0, "\(first.stderr)")

        // 64 KiB rewritten in the middle, same size, newer mtime: pushed as a delta.
        try patch(local + "/image.img", at: size / 2 + 123, count: 64 << 10, modified: 1_900_000_000)
        let receivedBefore = try await server.metric("ha_sync_serve_received_bytes_total{root=\"data\"}")
        let pushed = try await sync(local, server.url("data"), server)
        #expect(pushed.status == 0, "\(pushed.stderr)")
        #expect(pushed.summary?["updated"] as? Int == 1)
        let received = try await server.metric("ha_sync_serve_received_bytes_total{root=\"data\"}") - receivedBefore
        #expect(received > Double(64 << 10))
        #expect(received < Double(size) * 0.05, "the server received \(received) bytes for a 64 KiB change")
        #expect(try TemporaryTree.read(local, RelativePath("image.img")) == TemporaryTree.read(exported, RelativePath("image.img")))
        #expect(try await server.metric("ha_sync_serve_file_bytes_total{root=\"data\",source=\"basis\"}") > Double(size) * 0.9)

        // The other way: the server's copy changes, the local side pulls a delta.
        let back = try tree.directory("back")
        let pulledFirst = try await sync(server.url("data"), back, server, pair: "back")
        #expect(pulledFirst.status == 0, "\(pulledFirst.stderr)")
        try patch(exported + "/image.img", at: 4096, count: 32 << 10, modified: 1_950_000_000)
        let sentBefore = try await server.metric("ha_sync_serve_sent_bytes_total{root=\"data\"}")
        let pulled = try await sync(server.url("data"), back, server, pair: "back")
        #expect(pulled.status == 0, "\(pulled.stderr)")
        let sent = try await server.metric("ha_sync_serve_sent_bytes_total{root=\"data\"}") - sentBefore
        #expect(sent < Double(size) * 0.05, "the server sent \(sent) bytes for a 32 KiB change")
        #expect(try TemporaryTree.read(back, RelativePath("image.img")) == TemporaryTree.read(exported, RelativePath("image.img")))
    }

    @Test func aLargeFileIsComparedByItsBlocksAndOnlyItsChangeTravels() async throws {
        let server = try await serve()
        defer { Task { await server.stop() } }
        // Past the size from which a file with a peer is compared by its block digest (64 MiB),
        // with a short last block.
        let size = (64 << 20) + 1000
        try writeLargeFile(local + "/disk.img", size: size, seed: 11)
        let first = try await sync(local, server.url("data"), server)
        #expect(first.status == 0, "\(first.stderr)")

        // Touched, not changed: the digests agree, only the mtime moves.
        try patch(local + "/disk.img", at: 0, count: 0, modified: 1_900_000_000)
        let receivedBefore = try await server.metric("ha_sync_serve_received_bytes_total{root=\"data\"}")
        let touched = try await sync(local, server.url("data"), server)
        #expect(touched.status == 0, "\(touched.stderr)")
        #expect(touched.summary?["metadata_only"] as? Int == 1, "\(touched.stdout)")
        #expect(try await server.metric("ha_sync_serve_received_bytes_total{root=\"data\"}") - receivedBefore < 4096)
        #expect(
            try FileManager.default.attributesOfItem(atPath: exported + "/disk.img")[.modificationDate] as? Date
                == Date(timeIntervalSince1970: 1_900_000_000))

        // 64 KiB rewritten in the middle: a delta, rebuilt from the server's old copy.
        try patch(local + "/disk.img", at: size / 2 + 77, count: 64 << 10, modified: 1_910_000_000)
        let before = try await server.metric("ha_sync_serve_received_bytes_total{root=\"data\"}")
        let basisBefore = try await server.metric("ha_sync_serve_file_bytes_total{root=\"data\",source=\"basis\"}")
        let pushed = try await sync(local, server.url("data"), server)
        #expect(pushed.status == 0, "\(pushed.stderr)")
        #expect(pushed.summary?["updated"] as? Int == 1)
        let received = try await server.metric("ha_sync_serve_received_bytes_total{root=\"data\"}") - before
        #expect(received < Double(size) * 0.01, "the server received \(received) bytes for a 64 KiB change")
        #expect(try await server.metric("ha_sync_serve_file_bytes_total{root=\"data\",source=\"basis\"}") - basisBefore > Double(size) * 0.9)
        #expect(try TemporaryTree.read(local, RelativePath("disk.img")) == TemporaryTree.read(exported, RelativePath("disk.img")))
        // Compared by its blocks, not its MD5: the records carry no MD5.
        for outcome in [touched, pushed] {
            let record = try #require(outcome.jsonLines.first { $0["type"] as? String == "operation" && $0["path"] as? String == "disk.img" })
            #expect(record["md5_before"] as? String == nil && record["md5_after"] as? String == nil, "\(record)")
        }

        // The other way: the server's copy changes, this side pulls a delta.
        try patch(exported + "/disk.img", at: size - 3000, count: 3000, modified: 1_920_000_000)
        let sentBefore = try await server.metric("ha_sync_serve_sent_bytes_total{root=\"data\"}")
        let pulled = try await sync(server.url("data"), local, server, pair: "back")
        #expect(pulled.status == 0, "\(pulled.stderr)")
        #expect(pulled.summary?["updated"] as? Int == 1)
        #expect(try await server.metric("ha_sync_serve_sent_bytes_total{root=\"data\"}") - sentBefore < Double(size) * 0.01)
        #expect(try TemporaryTree.read(local, RelativePath("disk.img")) == TemporaryTree.read(exported, RelativePath("disk.img")))
    }

    @Test func compressionShrinksWhatCrossesTheWireBothWays() async throws {
        let server = try await serve()
        defer { Task { await server.stop() } }
        let line = "2026-12-03T00:00:00Z info sync started pair=media direction=dell-to-hp workers=4 dest=/mnt/hp/media\n"
        let big = String(repeating: line, count: 160_000)  // ~16 MiB of text: one large file
        try TemporaryTree.write(local, "logs/big.log", big)
        for index in 0..<50 { try TemporaryTree.write(local, "logs/small-\(index).log", String(repeating: line, count: 200)) }
        let total = Double(big.utf8.count + 50 * 200 * line.utf8.count)

        let receivedBefore = try await server.metric("ha_sync_serve_received_bytes_total{root=\"data\"}")
        let pushed = try await sync(local, server.url("data"), server, extra: ["--compress"])
        #expect(pushed.status == 0, "\(pushed.stderr)")
        let received = try await server.metric("ha_sync_serve_received_bytes_total{root=\"data\"}") - receivedBefore
        #expect(received < total * 0.2, "the server received \(received) bytes for \(total) bytes of text")
        #expect(try TreeSnapshot(local) == TreeSnapshot(exported))

        let back = try tree.directory("back")
        let sentBefore = try await server.metric("ha_sync_serve_sent_bytes_total{root=\"data\"}")
        let pulled = try await sync(server.url("data"), back, server, pair: "back", extra: ["--compress"])
        #expect(pulled.status == 0, "\(pulled.stderr)")
        let sent = try await server.metric("ha_sync_serve_sent_bytes_total{root=\"data\"}") - sentBefore
        #expect(sent < total * 0.2, "the server sent \(sent) bytes for \(total) bytes of text")
        #expect(try TreeSnapshot(back) == TreeSnapshot(exported))

        // Without --compress the same data goes whole.
        let plain = try tree.directory("plain")
        let plainBefore = try await server.metric("ha_sync_serve_sent_bytes_total{root=\"data\"}")
        let uncompressed = try await sync(server.url("data"), plain, server, pair: "plain")
        #expect(uncompressed.status == 0)
        #expect(try await server.metric("ha_sync_serve_sent_bytes_total{root=\"data\"}") - plainBefore > total)
        // And --compress without a peer is a usage error that says so.
        let misplaced = try await HASyncProcess.run(["--src", local, "--dest", plain, "--pair", "x", "--log-dir", logs, "--compress"])
        #expect(misplaced.status == 64 && misplaced.stderr.contains("--compress"), "\(misplaced.stderr)")
    }

    @Test func aWrongTokenIsRefusedWithoutPrintingIt() async throws {
        let server = try await serve()
        defer { Task { await server.stop() } }
        try TemporaryTree.write(local, "a.txt", "a")
        let wrong = "not-the-token-0123456789abcdef-secret"
        let tokenFile = tree.root + "/wrong-token"
        try wrong.write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let run = try await HASyncProcess.run(
            [
                "--src", local, "--dest", server.url("data"), "--pair", "media", "--log-dir", logs, "--peer-token-file", tokenFile, "--peer-ca",
                server.caFile,
            ])
        #expect(run.status == 1)
        #expect(run.stderr.contains("refused the token (HTTP 401)"), "\(run.stderr)")
        #expect(!run.stderr.contains(wrong) && !run.stdout.contains(wrong))
        #expect(!server.log.contains(wrong) && !server.log.contains(server.token))
        #expect(!TemporaryTree.exists(exported, RelativePath("a.txt")))
        let direct = try await server.post("data", "hello", ByteBuffer(), token: "")
        #expect(direct.status == 401)
        #expect(try await server.metric("ha_sync_serve_unauthorized_total") >= 2)
    }

    @Test func anUntrustedOrExpiredCertificateIsAClearError() async throws {
        let server = try await serve()
        defer { Task { await server.stop() } }
        // A CA of its own: the server's certificate is not signed by it.
        let other = try await ServeProcess(directory: try tree.directory("other"), roots: [])
        let untrusted = try await HASyncProcess.run(
            [
                "--src", local, "--dest", server.url("data"), "--pair", "media", "--log-dir", logs, "--peer-token-file", server.tokenFile,
                "--peer-ca", other.caFile,
            ])
        #expect(untrusted.status == 1)
        #expect(untrusted.stderr.contains("TLS handshake failed: the server's certificate is not signed by a CA in"), "\(untrusted.stderr)")
        #expect(untrusted.stderr.split(separator: "\n").filter { $0.contains("error") }.count == 1)

        let expired = try await serve(certificateName: "expired", certificateArguments: ["--days", "1", "--backdate-days", "30"])
        defer { Task { await expired.stop() } }
        let refused = try await sync(local, expired.url("data"), expired)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("TLS handshake failed: the server's certificate expired on"), "\(refused.stderr)")
    }

    @Test func pathsThatLeaveTheRootAreRefused() async throws {
        let server = try await serve()
        defer { Task { await server.stop() } }
        let outside = try tree.directory("outside")
        try TemporaryTree.write(outside, "secret.txt", "TOP-SECRET-CONTENT")
        try TemporaryTree.symlink(exported, RelativePath("escape"), target: outside)
        for hostile in ["../outside/secret.txt", "/etc/passwd", "a/../../outside", "./secret", "a//b", "x\u{0}y"] {
            var body = ByteBuffer()
            body.writeBlob(Array(hostile.utf8))
            for operation in ["entry", "list", "md5"] {
                let reply = try await server.post("data", operation, body)
                #expect(reply.status == 400, "\(operation) \(hostile.debugDescription): \(reply.status)")
            }
        }
        // Through a symlink inside the root: a tree error, never the file.
        for operation in ["entry", "md5", "list"] {
            var body = ByteBuffer()
            body.writeBlob(Array((operation == "list" ? "escape" : "escape/secret.txt").utf8))
            var reply = try await server.post("data", operation, body).body
            #expect(throws: SyncTreeError.self) { try RemoteReply.check(&reply) }
        }
        var read = ByteBuffer()
        read.writeReadFlags(compress: false)
        read.writeVarInt(1)
        read.writeBlob(Array("escape/secret.txt".utf8))
        read.writeBool(false)
        var content = try await server.post("data", "read", read).body
        #expect(content.readInteger(as: UInt8.self) == 1, "a file behind a symlink was opened")
        #expect(String(buffer: content).contains("TOP-SECRET-CONTENT") == false)
        // Writes too: a file sent to a path through the symlink never lands outside.
        try TemporaryTree.write(local, "escape/planted.txt", "planted")
        _ = try await sync(local, server.url("data"), server)
        #expect(!TemporaryTree.exists(outside, RelativePath("planted.txt")))
    }

    @Test func aReadOnlyRootRefusesWrites() async throws {
        let server = try await serve(["data=\(exported):ro"])
        defer { Task { await server.stop() } }
        try TemporaryTree.write(local, "new.txt", "new")
        try TemporaryTree.write(exported, "old.txt", "old")
        let before = try TreeSnapshot(exported)
        let run = try await sync(local, server.url("data"), server, extra: ["--delete-missing", "--max-delete", "100"])
        #expect(run.status == 2, "\(run.stderr)")
        #expect(run.stdout.contains("read-only"), "\(run.stdout)")
        #expect(try TreeSnapshot(exported) == before)
        // Reading is allowed.
        let back = try tree.directory("back")
        let pulled = try await sync(server.url("data"), back, server, pair: "back")
        #expect(pulled.status == 0, "\(pulled.stderr)")
        #expect(TemporaryTree.exists(back, RelativePath("old.txt")))
    }

    @Test func aServerKilledMidRunLeavesNothingPartialAndTheNextRunCompletes() async throws {
        let server = try await serve()
        try writeLargeFile(local + "/first.bin", size: 64 << 20, seed: 3)
        for index in 0..<20 { try TemporaryTree.write(local, "small\(index).txt", "s\(index)") }
        let run = try HASyncProcess(
            ["--src", local, "--dest", server.url("data"), "--pair", "media", "--log-dir", logs, "--output", "json"] + server.clientArguments)
        // The server freezes the moment its first temporary file appears, then dies.
        #expect(await freezeWhenTemporaryFileAppears(server.process!, in: exported))
        try await server.kill()
        let outcome = try await run.wait(timeout: 150)
        #expect(outcome.status == 1 || outcome.status == 2, "\(outcome.stderr)")
        #expect(!outcome.terminatedBySignal)
        #expect(!TemporaryTree.exists(exported, RelativePath("first.bin")), "a partial file under its final name")

        try await server.start()
        defer { Task { await server.stop() } }
        let again = try await sync(local, server.url("data"), server)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try TreeSnapshot(local) == TreeSnapshot(exported))
        #expect(temporaryFiles(in: exported).isEmpty)
    }

    @Test func aClientKilledMidUploadResumesWhereItStopped() async throws {
        let server = try await serve()
        defer { Task { await server.stop() } }
        let size = 96 << 20
        try writeLargeFile(local + "/big.bin", size: size, seed: 5)
        try TemporaryTree.write(local, "small.txt", "small: never kept half-written")
        // An older, different version is in place: the resumed transfer must rebuild from the
        // partial file, not from this (both ends must agree on which, or the checksum fails).
        try writeLargeFile(exported + "/big.bin", size: 32 << 20, seed: 6)
        try TemporaryTree.setModified(exported, RelativePath("big.bin"), Timestamp(seconds: 1_600_000_000))
        let run = try HASyncProcess(
            ["--src", local, "--dest", server.url("data"), "--pair", "media", "--log-dir", logs] + server.clientArguments)
        // Killed once a good part of the large file has arrived.
        #expect(await freezeWhenTemporaryFileAppears(run, in: exported, minimumSize: 24 << 20))
        run.signal(SIGKILL)
        _ = try await run.wait(timeout: 30)
        #expect(
            (try? FileManager.default.attributesOfItem(atPath: exported + "/big.bin")[.size] as? Int) == 32 << 20,
            "the old version stays under the final name, nothing partial")
        // The server keeps what arrived under the transfer's partial name, and nothing else.
        let kept = try await waitUntil(timeout: 60) {
            let names = temporaryFiles(in: exported)
            return names.count == 1 && names[0].hasPrefix(".ha-sync-tmp.resume-")
        }
        #expect(kept, "\(temporaryFiles(in: exported))")
        let partialSize =
            temporaryFiles(in: exported).first.flatMap {
                try? FileManager.default.attributesOfItem(atPath: exported + "/" + $0)[.size] as? Int
            } ?? 0
        #expect(partialSize >= 24 << 20)

        let wireBefore = try await server.metric("ha_sync_serve_file_bytes_total{root=\"data\",source=\"wire\"}")
        let again = try await sync(local, server.url("data"), server)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try TreeSnapshot(local) == TreeSnapshot(exported))
        #expect(temporaryFiles(in: exported).isEmpty, "the partial is gone once the file is in place")
        // Only what was missing crossed the wire again.
        let wire = try await server.metric("ha_sync_serve_file_bytes_total{root=\"data\",source=\"wire\"}") - wireBefore
        #expect(wire < Double(size - partialSize) + Double(2 << 20), "resent \(wire) bytes; \(partialSize) of \(size) had arrived")
        #expect(try await server.metric("ha_sync_serve_file_bytes_total{root=\"data\",source=\"basis\"}") >= Double(partialSize - (1 << 20)))
    }

    @Test func aClientKilledMidDownloadResumesWhereItStopped() async throws {
        let server = try await serve()
        defer { Task { await server.stop() } }
        let size = 96 << 20
        try writeLargeFile(exported + "/image.iso", size: size, seed: 9)
        let run = try HASyncProcess(
            ["--src", server.url("data"), "--dest", local, "--pair", "pull", "--log-dir", logs] + server.clientArguments)
        #expect(await freezeWhenTemporaryFileAppears(run, in: local, minimumSize: 24 << 20))
        run.signal(SIGKILL)
        _ = try await run.wait(timeout: 30)
        #expect(!TemporaryTree.exists(local, RelativePath("image.iso")))
        let names = temporaryFiles(in: local)
        #expect(names.count == 1 && names.first?.hasPrefix(".ha-sync-tmp.resume-") == true, "\(names)")
        let partialSize = names.first.flatMap { try? FileManager.default.attributesOfItem(atPath: local + "/" + $0)[.size] as? Int } ?? 0

        let sentBefore = try await server.metric("ha_sync_serve_sent_bytes_total{root=\"data\"}")
        let again = try await sync(server.url("data"), local, server, pair: "pull")
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try TemporaryTree.read(local, RelativePath("image.iso")) == TemporaryTree.read(exported, RelativePath("image.iso")))
        #expect(temporaryFiles(in: local).isEmpty)
        let sent = try await server.metric("ha_sync_serve_sent_bytes_total{root=\"data\"}") - sentBefore
        #expect(sent < Double(size - partialSize) + Double(2 << 20), "sent \(sent) bytes; \(partialSize) of \(size) had arrived")
    }

    @Test func aFolderReplacedUnderTheServerIsOpenedAgainAndAMissingOneIsAClearError() async throws {
        let server = try await serve()
        defer { Task { await server.stop() } }
        try TemporaryTree.write(local, "a.txt", "a")
        #expect(try await sync(local, server.url("data"), server).status == 0)
        // A volume mounted over the folder looks like this: the path names another directory.
        try FileManager.default.moveItem(atPath: exported, toPath: exported + ".old")
        try FileManager.default.createDirectory(atPath: exported, withIntermediateDirectories: false)
        let again = try await sync(local, server.url("data"), server)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(TemporaryTree.exists(exported, RelativePath("a.txt")), "the run wrote into the folder the path names now")
        try FileManager.default.removeItem(atPath: exported)
        let missing = try await sync(local, server.url("data"), server, extra: ["--bidirectional"])
        #expect(missing.status == 3, "\(missing.stderr)")
        #expect(missing.stderr.contains("does not exist (is it mounted?)"), "\(missing.stderr)")
    }

    @Test func rotatedTokensAndRenewedCertificatesNeedNoRestart() async throws {
        let server = try await serve()
        defer { Task { await server.stop() } }
        try TemporaryTree.write(local, "a.txt", "a")
        let newToken = String(repeating: "n", count: 20) + "-rotated-token"
        let newTokenFile = tree.root + "/new-token"
        try newToken.write(toFile: newTokenFile, atomically: true, encoding: .utf8)
        func run(tokenFile: String) async throws -> HASyncProcess.Outcome {
            try await HASyncProcess.run(
                [
                    "--src", local, "--dest", server.url("data"), "--pair", "media", "--log-dir", logs, "--peer-token-file", tokenFile, "--peer-ca",
                    server.caFile,
                ])
        }
        #expect(try await run(tokenFile: newTokenFile).status == 1, "not accepted yet")
        // Both tokens while clients move over, then only the new one.
        try (server.token + "\n" + newToken + "\n").write(toFile: server.tokenFile, atomically: true, encoding: .utf8)
        #expect(try await waitUntilAsync(timeout: 30) { try await run(tokenFile: newTokenFile).status == 0 })
        #expect(try await run(tokenFile: server.tokenFile).status == 0)
        try (newToken + "\n").write(toFile: server.tokenFile, atomically: true, encoding: .utf8)
        let oldTokenFile = tree.root + "/old-token"
        try server.token.write(toFile: oldTokenFile, atomically: true, encoding: .utf8)
        #expect(try await waitUntilAsync(timeout: 30) { try await run(tokenFile: oldTokenFile).status == 1 })

        // A renewal written over the certificate files is served without a restart: here an
        // expired one, which the next client refuses.
        let made = try await HASyncProcess.run(
            ["certificate", "--dir", server.directory + "/pki", "--name", "renewed", "--host", "127.0.0.1", "--days", "1", "--backdate-days", "30"])
        #expect(made.status == 0)
        try FileManager.default.removeItem(atPath: server.directory + "/pki/server-key.pem")
        try FileManager.default.copyItem(atPath: server.directory + "/pki/renewed-key.pem", toPath: server.directory + "/pki/server-key.pem")
        try FileManager.default.removeItem(atPath: server.directory + "/pki/server.pem")
        try FileManager.default.copyItem(atPath: server.directory + "/pki/renewed.pem", toPath: server.directory + "/pki/server.pem")
        var last = ""
        #expect(
            try await waitUntilAsync(timeout: 30) {
                let outcome = try await run(tokenFile: newTokenFile)
                last = outcome.stderr
                return outcome.status == 1 && outcome.stderr.contains("expired on")
            }, "\(last)")
        #expect(server.log.contains("TLS certificate reloaded"))
    }

    @Test func healthAndMetricsAnswerWithoutAToken() async throws {
        let server = try await serve()
        defer { Task { await server.stop() } }
        let health = try await server.withClient { client in
            try await client.execute(.init(url: "https://127.0.0.1:\(server.port)/healthz"), timeout: .seconds(10)).status.code
        }
        #expect(health == 200)
        try TemporaryTree.write(local, "a.txt", "a")
        _ = try await sync(local, server.url("data"), server)
        #expect(try await server.requests("write") >= 1)
        #expect(try await server.metric("ha_sync_serve_active_requests") == 0)
    }

    /// Overwrites `count` bytes at `offset` with a new pattern and sets the mtime.
    func patch(_ path: String, at offset: Int, count: Int, modified: Int64) throws {
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        try handle.seek(toOffset: UInt64(offset))
        try handle.write(contentsOf: Data((0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 0x5A) }))
        try handle.close()
        var times = [timespec(tv_sec: Int(modified), tv_nsec: 0), timespec(tv_sec: Int(modified), tv_nsec: 0)]
        _ = utimensat(AT_FDCWD, path, &times, 0)
    }
}
