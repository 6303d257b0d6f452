public import NIOCore
public import SyncTrees

/// The wire form of ``BlockSignatures``: the block size, the key, the count, then per block
/// the weak checksum and the 128-bit strong hash.
extension BlockSignatures {
    public func write(to buffer: inout ByteBuffer) {
        buffer.writeVarInt(UInt64(blockSize))
        buffer.writeBytes(key.bytes)
        buffer.writeVarInt(UInt64(blocks.count))
        for block in blocks {
            buffer.writeInteger(block.weak)
            buffer.writeInteger(block.strong.high)
            buffer.writeInteger(block.strong.low)
        }
    }

    public static func read(from buffer: inout ByteBuffer) throws -> BlockSignatures {
        let blockSize = try buffer.readCount(limit: ContentRecord.blockSizes.upperBound)
        guard ContentRecord.blockSizes.contains(blockSize) else { throw WireError.malformed("block size \(blockSize) too small") }
        let key = try buffer.readBlockKey()
        let count = try buffer.readCount(limit: 1 << 24)
        guard buffer.readableBytes >= count * 20 else { throw WireError.truncated }
        var blocks: [Block] = []
        blocks.reserveCapacity(count)
        for _ in 0..<count {
            let weak: UInt32 = buffer.readInteger()!
            let high: UInt64 = buffer.readInteger()!
            let low: UInt64 = buffer.readInteger()!
            blocks.append(Block(weak: weak, strong: StrongHash(high: high, low: low)))
        }
        return BlockSignatures(blockSize: blockSize, key: key, blocks: blocks)
    }
}

extension ByteBuffer {
    /// Reads a ``BlockKey``'s 16 bytes.
    public mutating func readBlockKey() throws -> BlockKey {
        guard let bytes = readBytes(length: 16) else { throw WireError.truncated }
        return BlockKey(bytes: bytes)!
    }
}
