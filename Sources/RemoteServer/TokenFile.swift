import Crypto
import Foundation
import Synchronization

/// The bearer tokens a server accepts, read from a file (one per line; blank lines and lines
/// starting with `#` are ignored) and re-read when the file changes, so a token is rotated
/// by writing the new one beside the old, moving clients over, then removing the old.
///
/// Tokens are compared by their SHA-256 digests in constant time and never logged.
public final class TokenFile: Sendable {
    public let path: String
    private let state: Mutex<State>

    private struct State {
        var digests: [SHA256.Digest] = []
        var stamp: FileStamp?
        var checkedAt: ContinuousClock.Instant?
    }

    /// Reads the file once; throws if it cannot be read or holds no token.
    public init(path: String) throws {
        self.path = path
        state = Mutex(State())
        try reload(force: true)
    }

    /// Whether `presented` is one of the tokens.
    public func accepts(_ presented: String) -> Bool {
        try? reload(force: false)
        let digest = SHA256.hash(data: Array(presented.utf8))
        let digests = state.withLock { $0.digests }
        var accepted = false
        for candidate in digests {
            // Every candidate is compared in full, and each comparison takes the same time.
            accepted = Self.equal(candidate, digest) || accepted
        }
        return accepted
    }

    private static func equal(_ lhs: SHA256.Digest, _ rhs: SHA256.Digest) -> Bool {
        var difference: UInt8 = 0
        for (left, right) in zip(lhs, rhs) { difference |= left ^ right }
        return difference == 0
    }

    /// Re-reads the file when its size, mtime or inode changed; checks at most once a second.
    private func reload(force: Bool) throws {
        let now = ContinuousClock.now
        let due = state.withLock { state -> Bool in
            if !force, let checked = state.checkedAt, now - checked < .seconds(1) { return false }
            state.checkedAt = now
            return true
        }
        guard due else { return }
        let stamp = try FileStamp(path: path)
        if !force, state.withLock({ $0.stamp == stamp }) { return }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ServeError("cannot read the token file \(path): \(error.localizedDescription)")
        }
        let tokens = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter {
            !$0.isEmpty && !$0.hasPrefix("#")
        }
        guard !tokens.isEmpty else { throw ServeError("the token file \(path) holds no token") }
        if tokens.contains(where: { $0.utf8.count < 16 }) {
            throw ServeError("a token in \(path) is shorter than 16 characters; use e.g. `openssl rand -hex 32`")
        }
        let digests = tokens.map { SHA256.hash(data: Array($0.utf8)) }
        state.withLock {
            $0.digests = digests
            $0.stamp = stamp
        }
    }
}

/// What tells a file changed without reading it.
struct FileStamp: Equatable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modified: Int64

    init(path: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw ServeError("cannot read \(path): \(String(cString: strerror(errno)))")
        }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        modified = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
    }
}

/// A problem with the server's own configuration, worded for the operator.
public struct ServeError: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
