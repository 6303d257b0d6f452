import SyncCore
import SyncTrees

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
        try readChunks(path: path, shouldStop: shouldStop, read: { try readSome(descriptor, into: $0, path: path) }, body)
    }

    /// One `read`, retried on EINTR; 0 at the end of the file.
    static func readSome(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer, path: RelativePath) throws -> Int {
        while true {
            let count = read(descriptor, buffer.baseAddress, buffer.count)
            if count >= 0 { return count }
            if errno != EINTR { throw SyncTreeError.system("read", path) }
        }
    }

    /// Reads a tree's file to the end, handing each chunk to `body`.
    static func readAll(
        from reader: any FileReader,
        path: RelativePath,
        shouldStop: () -> Bool,
        _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        // A small file gets a buffer its size, not a whole chunk: a server receives many at once.
        let capacity = Int(min(Int64(bufferSize), max(reader.attributes.size + 1, 4096)))
        try readChunks(path: path, capacity: capacity, shouldStop: shouldStop, read: reader.read(into:), body)
    }

    /// The loop both readers share: a buffer, a stop check per chunk, 0 bytes ends it.
    private static func readChunks(
        path: RelativePath,
        capacity: Int = bufferSize,
        shouldStop: () -> Bool,
        read: (UnsafeMutableRawBufferPointer) throws -> Int,
        _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            if shouldStop() { throw SyncTreeError(code: .interrupted, operation: "read", path: path, detail: "stopped") }
            let count = try read(buffer)
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
                throw SyncTreeError.system("write", path)
            }
            offset += count
        }
    }
}
