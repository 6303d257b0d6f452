import NIOCore
import RemoteProtocol
public import SyncCore
public import SyncTrees

/// Calls that answer for many paths in one exchange: the digests of a folder's files whose
/// mtimes differ, a folder's new subfolders, and the directories a run finished. One at a
/// time, each would wait its own round trip.
extension RemoteTree {
    /// A request for many paths stops taking more at this size, well under what the server
    /// accepts for a small request.
    static let pathBatchBytes = 256 * 1024

    public func digestBatch(_ paths: [RelativePath]) -> [Result<String, any Error>] {
        callForEach(.digests, paths, path: { $0 }, encode: { $0.writePath($1) }, decode: { try $0.readText() })
    }

    public func finishDirectoryBatch(_ directories: [FinishedDirectory]) -> [(any Error)?] {
        for directory in directories { changing(directory.path) }
        return failures(.finishDirectories, directories, path: \.path) { buffer, directory in
            buffer.writePath(directory.path)
            buffer.writeVarInt(UInt64(directory.permissions))
            buffer.writeTimestamp(directory.modified)
        }
    }

    public func makeDirectoryBatch(_ directories: [NewDirectory]) -> [(any Error)?] {
        for directory in directories { changing(directory.path) }
        return failures(.makeDirectories, directories, path: \.path) { buffer, directory in
            buffer.writePath(directory.path)
            buffer.writeOptionalKind(directory.replacing)
        }
    }

    public func keepVersionBatch(_ versions: [VersionToKeep]) -> [Result<Bool, any Error>] {
        for version in versions { changing(version.path, version.versionPath) }
        return callForEach(.keepVersions, versions, path: \.path) { buffer, version in
            buffer.writePath(version.path)
            buffer.writePath(version.versionPath)
            buffer.writeEntry(version.expected)
            buffer.writeBool(version.keepOriginal)
        } decode: {
            try $0.readBool()
        }
    }

    /// A call for many paths that returns nothing but each one's failure (`nil` for a success).
    private func failures<Item>(
        _ operation: RemoteOperation, _ items: [Item], path: (Item) -> RelativePath, encode: (inout ByteBuffer, Item) -> Void
    ) -> [(any Error)?] {
        callForEach(operation, items, path: path, encode: encode, decode: { _ in () }).map { result in
            guard case .failure(let error) = result else { return nil }
            return error
        }
    }

    /// Sends `items` in as few requests as the size limit allows; each item gets its own
    /// outcome, and items a failed exchange did not answer get that failure.
    private func callForEach<Item, Value>(
        _ operation: RemoteOperation, _ items: [Item], path: (Item) -> RelativePath,
        encode: (inout ByteBuffer, Item) -> Void, decode: (inout ByteBuffer) throws -> Value
    ) -> [Result<Value, any Error>] {
        var results: [Result<Value, any Error>] = []
        results.reserveCapacity(items.count)
        var start = 0
        while start < items.count {
            var payload = ByteBuffer()
            var end = start
            while end < items.count && end - start < WireLimits.maxBatch && payload.readableBytes < Self.pathBatchBytes {
                encode(&payload, items[end])
                end += 1
            }
            var body = ByteBuffer()
            body.writeVarInt(UInt64(end - start))
            body.writeBuffer(&payload)
            do {
                var reply = try connection.call(operation, body)
                for _ in start..<end {
                    if let failure = try RemoteReply.itemFailure(&reply) {
                        results.append(.failure(failure))
                    } else {
                        results.append(.success(try decode(&reply)))
                    }
                }
            } catch {
                while results.count < end {
                    let failure: any Error =
                        (error as? RemoteError).map {
                            SyncTreeError(
                                code: .io, operation: "remote \(operation.rawValue)", path: path(items[results.count]), detail: $0.description)
                        } ?? error
                    results.append(.failure(failure))
                }
            }
            start = end
        }
        return results
    }
}

extension RemoteTree {
    /// The subtree's listings in one `walk` (a version store at the end of a run: one
    /// exchange rather than one per folder). Should the walk break, the folders it had not
    /// delivered are listed one at a time.
    public func listSubtree(_ root: RelativePath, _ visit: (RelativePath, DirectoryListing) -> Void) {
        // Folders known to exist and not yet delivered: with a depth-first walk, its frontier.
        var undelivered: Set<RelativePath> = [root]
        var started: HTTPClientTask?
        do {
            let body = BytePipe(limit: 64 << 10)
            var request = ByteBuffer()
            request.writePath(root)
            try body.put(request)
            body.finish()
            let (reply, task) = try startStream(.walk, body: body, path: root)
            started = task
            let stream = RecordStream(next: reply.take)
            while let (folder, result) = try WalkRecord.read(from: stream) {
                undelivered.remove(folder)
                guard case .success(let listing) = result else { continue }
                visit(folder, listing)
                for entry in listing.entries where entry.kind == .directory && entry.name != VersionName.folder {
                    undelivered.insert(folder.appending(entry.name))
                }
            }
        } catch {
            started?.cancel()
            listEachFolder(below: Array(undelivered), visit)
        }
    }
}
