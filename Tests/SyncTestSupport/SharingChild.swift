#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A child process holding, as its descriptor 3, the open file this process has open at `path`:
/// what a child forked by another thread holds between its fork and its exec. Locks taken with
/// `flock` belong to the open file, so the child shares them. Killed by ``stop()``.
public final class SharingChild: Sendable {
    public let pid: Int32

    /// Spawns `sleep` with the descriptor that has `path` open; nil when no descriptor of this
    /// process has it open.
    public init?(sharingOpenFileOf path: String) {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        guard let descriptor = Self.descriptor(openAt: String(cString: resolved)) else { return nil }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // dup2 onto another number clears close-on-exec for the copy.
        posix_spawn_file_actions_adddup2(&actions, descriptor, 3)
        var child: pid_t = 0
        let arguments = ["/bin/sleep", "60"]
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        guard posix_spawn(&child, "/bin/sleep", &actions, nil, argv, environ) == 0 else { return nil }
        pid = child
    }

    public func stop() {
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }

    /// The descriptor of this process open at `path`, read from `/proc/self/fd`.
    static func descriptor(openAt path: String) -> Int32? {
        guard let directory = opendir("/proc/self/fd") else { return nil }
        defer { closedir(directory) }
        var target = [CChar](repeating: 0, count: 4096)
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            guard let number = Int32(name) else { continue }
            let length = readlink("/proc/self/fd/\(name)", &target, target.count - 1)
            guard length > 0 else { continue }
            let linked = String(decoding: target[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if linked == path { return number }
        }
        return nil
    }
}
