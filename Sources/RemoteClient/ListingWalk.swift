import AsyncHTTPClient
import Foundation
import NIOCore
import RemoteProtocol
import SyncCore
import SyncTrees

/// The listings of a whole subtree, streamed by the server in one exchange (`walk`) ahead of
/// the engine's requests, so a run pays one round trip and one request for the tree rather
/// than one per folder.
///
/// The server sends folders in the order the engine visits them, and a listing is handed out
/// once. A listing is only ever as old as one fetched when the walk read it: anything this
/// client changes in a folder drops that folder's listing, so it is fetched afresh. At most
/// ``entryLimit`` entries wait here; past that the walk is abandoned and folders not yet
/// received are listed one request each, as without it.
final class ListingWalk: @unchecked Sendable {
    /// Listings received and not yet asked for, with the entries they hold.
    private var listings: [RelativePath: Result<DirectoryListing, SyncTreeError>] = [:]
    private var heldEntries = 0
    /// Folders changed by this client: a listing of them that arrives later is stale.
    private var changed: Set<RelativePath> = []
    /// Folders already handed out: asked again, they are listed afresh at once rather than
    /// waiting for a walk that will not send them twice.
    private var handedOut: Set<RelativePath> = []
    private var finished = false
    // Guards the fields above; `wait` releases it while the walk reads on.
    private let condition = NSCondition()
    private let task: HTTPClient.Task<Void>

    /// Entries held at most (about 100 bytes each).
    static let entryLimit = 100_000

    /// Starts walking `root` on `tree`'s server; `nil` if the request could not start.
    init?(tree: RemoteTree, root: RelativePath) {
        let body = BytePipe(limit: 64 << 10)
        let reply: BytePipe
        do {
            var request = ByteBuffer()
            request.writePath(root)
            try body.put(request)
            body.finish()
            let started = try tree.startStream(.walk, body: body, path: root)
            reply = started.0
            task = started.1
        } catch {
            return nil
        }
        Thread.detachNewThread { [self] in read(RecordStream(next: reply.take)) }
    }

    /// The listing of `folder` from the walk, waiting for it if the walk has not reached it
    /// yet; `nil` when the walk will not deliver it (ended, abandoned, or the folder changed).
    func take(_ folder: RelativePath) throws -> DirectoryListing? {
        if folder.bytes.split(separator: UInt8(ascii: "/")).contains(where: { $0.elementsEqual(VersionName.folder) }) { return nil }
        condition.lock()
        defer { condition.unlock() }
        while true {
            if changed.contains(folder) || handedOut.contains(folder) { return nil }
            if let result = remove(folder) {
                if !finished { handedOut.insert(folder) }
                return try result.get()
            }
            if finished { return nil }
            condition.wait()
        }
    }

    /// Ends the walk: a newer one replaces it. What it still holds is dropped, and whoever
    /// waits on it lists the folder on its own.
    func stop() {
        condition.lock()
        let running = !finished
        finished = true
        listings = [:]
        heldEntries = 0
        condition.broadcast()
        condition.unlock()
        if running { task.cancel() }
    }

    /// Forgets what the walk has or will have of `folders`: this client changed them.
    func invalidate(_ folders: [RelativePath]) {
        condition.lock()
        defer { condition.unlock() }
        for folder in folders {
            if !finished { changed.insert(folder) }  // once finished, nothing more arrives
            _ = remove(folder)
        }
    }

    /// Takes `folder`'s listing out of those held (the lock is held).
    private func remove(_ folder: RelativePath) -> Result<DirectoryListing, SyncTreeError>? {
        let removed = listings.removeValue(forKey: folder)
        if case .success(let listing) = removed { heldEntries -= listing.entries.count }
        return removed
    }

    private func read(_ stream: RecordStream) {
        defer {
            condition.lock()
            finished = true
            condition.broadcast()
            condition.unlock()
        }
        do {
            while let (folder, result) = try WalkRecord.read(from: stream) {
                let count = (try? result.get())?.entries.count ?? 0
                condition.lock()
                if finished {  // stopped: a newer walk replaced this one
                    condition.unlock()
                    return
                }
                if heldEntries + count > Self.entryLimit {
                    condition.unlock()
                    task.cancel()
                    return
                }
                if !changed.contains(folder) {
                    listings[folder] = result
                    heldEntries += count
                    condition.broadcast()
                }
                condition.unlock()
            }
        } catch {
            // A broken walk costs only speed: what it did not deliver is listed one by one.
            task.cancel()
        }
    }
}
