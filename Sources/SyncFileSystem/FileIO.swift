import SyncCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Plain read/write loops on descriptors, retrying on EINTR.
enum FileIO {
    static let bufferSize = 1 << 20

    /// Reads `descriptor` to the end, handing each chunk to `body`.
    static func readAll(
        _ descriptor: Int32,
        path: RelativePath,
        shouldStop: () -> Bool = { false },
        _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferSize, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            if shouldStop() { throw FileSystemError(code: .interrupted, operation: "read", path: path, detail: "stopped") }
            let count = read(descriptor, buffer.baseAddress, bufferSize)
            if count < 0 {
                if errno == EINTR { continue }
                throw FileSystemError.system("read", path)
            }
            if count == 0 { return }
            try body(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
        }
    }

    /// Writes all of `bytes` to `descriptor`.
    static func writeAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer, path: RelativePath) throws {
        var offset = 0
        while offset < bytes.count {
            let count = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if count < 0 {
                if errno == EINTR { continue }
                throw FileSystemError.system("write", path)
            }
            offset += count
        }
    }
}
