public import NIOCore

/// Reads messages from a stream of byte chunks that split them anywhere, blocking for more
/// chunks as needed. The source returns `nil` at the end of the stream.
public final class RecordStream {
    private var buffer = ByteBuffer()
    private let next: () throws -> ByteBuffer?

    public init(next: @escaping () throws -> ByteBuffer?) {
        self.next = next
    }

    /// Parses one message with `parse`, pulling chunks until it no longer runs out of bytes.
    public func read<T>(_ parse: (inout ByteBuffer) throws -> T) throws -> T {
        while true {
            var attempt = buffer
            do {
                let value = try parse(&attempt)
                buffer = attempt
                return value
            } catch WireError.truncated {
                guard try pull() else { throw WireError.truncated }
            }
        }
    }

    /// Whether bytes that arrived are waiting to be parsed (reading more would not block).
    public var hasBufferedBytes: Bool { buffer.readableBytes > 0 }

    /// Whether the stream has ended with no bytes left over.
    public func atEnd() throws -> Bool {
        while buffer.readableBytes == 0 {
            if try !pull() { return true }
        }
        return false
    }

    /// Copies exactly `count` bytes into `destination` as they arrive.
    public func readBytes(_ count: Int, into destination: (ByteBuffer) throws -> Void) throws {
        var left = count
        while left > 0 {
            if buffer.readableBytes == 0, try !pull() { throw WireError.truncated }
            let take = min(left, buffer.readableBytes)
            try destination(buffer.readSlice(length: take)!)
            left -= take
        }
    }

    /// Reads exactly `count` bytes.
    public func readBytes(_ count: Int) throws -> ByteBuffer {
        var result = ByteBuffer()
        result.reserveCapacity(count)
        try readBytes(count) { slice in
            var slice = slice
            result.writeBuffer(&slice)
        }
        return result
    }

    /// Passes up to `max` bytes (at least one) to `destination`, pulling a chunk only if none is buffered.
    func readAvailable(max: Int, _ destination: (ByteBuffer) throws -> Void) throws {
        if buffer.readableBytes == 0, try !pull() { throw WireError.truncated }
        try destination(buffer.readSlice(length: min(max, buffer.readableBytes))!)
    }

    private func pull() throws -> Bool {
        guard var chunk = try next() else { return false }
        if buffer.readableBytes == 0 {
            buffer = chunk
        } else {
            buffer.discardReadBytes()
            buffer.writeBuffer(&chunk)
        }
        return true
    }
}

extension RecordStream {
    /// Copies up to `destination.count` bytes that have arrived (at least one), blocking for a chunk if none has.
    public func readSome(into destination: UnsafeMutableRawBufferPointer) throws -> Int {
        var copied = 0
        try readAvailable(max: destination.count) { slice in
            slice.withUnsafeReadableBytes { bytes in
                UnsafeMutableRawBufferPointer(rebasing: destination[copied...]).copyMemory(from: bytes)
            }
            copied += slice.readableBytes
        }
        return copied
    }
}
