import CompressNIO
import NIOCore
import RemoteProtocol
import SyncCore
import SyncTrees
import Testing

/// `--compress`: literal data deflated on the wire, inflated and checked on arrival.
@Suite("Compressed content records")
struct CompressedContentTests {
    /// A file in memory, read in odd-sized pieces.
    final class BytesReader: FileReader {
        let attributes: FileAttributes
        private let bytes: [UInt8]
        private var offset = 0
        /// What ``FileReader/checksSize`` answers.
        var checksSize = false
        /// Whether a read was asked for after the last byte (the call that finds the end).
        private(set) var askedPastEnd = false

        /// `listedSize` is what the file held when it was opened (it may have grown or shrunk since).
        init(_ bytes: [UInt8], listedSize: Int? = nil) {
            self.bytes = bytes
            attributes = FileAttributes(
                size: Int64(listedSize ?? bytes.count), modified: Timestamp(seconds: 1_700_000_000), permissions: 0o644)
        }

        func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
            if offset == bytes.count { askedPastEnd = true }
            let count = min(buffer.count, bytes.count - offset, 100_003)
            bytes[offset..<(offset + count)].withUnsafeBytes { buffer.copyMemory(from: $0) }
            offset += count
            return count
        }

        func checkUnchanged() throws {}
    }

    /// Sends `content` as records and reads it back through a receiver; returns what arrived and the wire's size.
    func transfer(_ content: [UInt8], compress: Bool, listedSize: Int? = nil) throws -> (received: [UInt8], wire: Int, literal: Int64) {
        var output = ByteBuffer()
        var pieces: [ByteBuffer] = []
        let reader = BytesReader(content, listedSize: listedSize)
        let outcome = try ContentSender.send(reader, signatures: nil, path: RelativePath("f"), into: &output, compress: compress) {
            buffer, _ in
            pieces.append(buffer)
            buffer = ByteBuffer()
        }
        pieces.append(output)
        let wire = pieces.reduce(0) { $0 + $1.readableBytes }
        var remaining = pieces[...]
        let stream = RecordStream { remaining.popFirst() }
        let receiver = ContentReceiver(attributes: BytesReader(content).attributes, path: RelativePath("f"), stream: stream)
        var received: [UInt8] = []
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 70_000, alignment: 8)
        defer { buffer.deallocate() }
        while true {
            let count = try receiver.read(into: buffer)
            if count == 0 { break }
            received += buffer[..<count]
        }
        try receiver.checkUnchanged()
        #expect(receiver.literalBytes == outcome.literalBytes, "both ends count the same wire bytes")
        return (received, wire, outcome.literalBytes)
    }

    @Test func textShrinksOnTheWireAndArrivesIntact() throws {
        let line = Array("2026-12-03T00:00:00Z info sync started pair=media direction=dell-to-hp workers=4\n".utf8)
        let content = Array((0..<40_000).flatMap { _ in line })  // ~3 MiB of log text
        let plain = try transfer(content, compress: false)
        let packed = try transfer(content, compress: true)
        #expect(plain.received == content && packed.received == content)
        #expect(packed.wire * 10 < plain.wire, "deflated \(packed.wire) bytes against \(plain.wire)")
        #expect(packed.literal < Int64(content.count) / 10, "the wire bytes counted are the compressed ones")
    }

    @Test(arguments: [0, 1, 4095, 4096, 70_000, 900_000])
    func whatIsReadIsSentWhateverSizeWasListed(listedSize: Int) throws {
        // Reads are sized by what the file was listed to hold; one that grew or shrank since
        // is still sent whole (its reader's own check then refuses the copy).
        let content = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        #expect(try transfer(content, compress: false, listedSize: listedSize).received == content)
    }

    @Test(arguments: [0, 1, 4096, 70_000, 300_001])
    func aReaderWhoseCheckCoversTheSizeIsNotAskedForTheEnd(size: Int) throws {
        let content = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        for checksSize in [false, true] {
            let reader = BytesReader(content)
            reader.checksSize = checksSize
            var output = ByteBuffer()
            _ = try ContentSender.send(reader, signatures: nil, path: RelativePath("f"), into: &output) { _, _ in }
            #expect(reader.askedPastEnd == !checksSize, "size \(size), checksSize \(checksSize)")
        }
    }

    @Test func dataThatDoesNotShrinkGoesAsItIs() throws {
        var seed: UInt64 = 42
        let noise = (0..<(1 << 20)).map { _ in
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: seed >> 33)
        }
        let plain = try transfer(noise, compress: false)
        let packed = try transfer(noise, compress: true)
        #expect(packed.received == noise)
        #expect(packed.wire == plain.wire, "random bytes are sent raw, never larger")
    }

    /// Reads the first bytes of a file of `size` bytes arriving as `wire`.
    static func readFirst(_ wire: ByteBuffer, size: Int64) throws {
        var pieces = [wire][...]
        let receiver = ContentReceiver(
            attributes: FileAttributes(size: size, modified: Timestamp(seconds: 0), permissions: 0o644), path: RelativePath("f"),
            stream: RecordStream { pieces.popFirst() })
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 8)
        defer { buffer.deallocate() }
        _ = try receiver.read(into: buffer)
    }

    @Test func aDeflateRecordThatInflatesToMoreThanItSaysIsRefused() throws {
        // 64 KiB of zeros deflated, announced as 1 KiB: a decompression bomb.
        var zeros = ByteBuffer(repeating: 0, count: 64 << 10)
        var deflated = ByteBuffer()
        deflated.reserveCapacity(64 << 10)
        try zeros.compress(to: &deflated, with: .deflate())
        var wire = ByteBuffer()
        ContentRecord.writeDeflate(uncompressedLength: 1024, compressed: deflated, to: &wire)
        #expect(throws: SyncTreeError.self) { try Self.readFirst(wire, size: 1024) }
    }

    @Test func damagedCompressedDataIsAnErrorNotACrash() throws {
        var wire = ByteBuffer()
        ContentRecord.writeDeflate(uncompressedLength: 4096, compressed: ByteBuffer(bytes: [0xFF, 0x00, 0x13, 0x37, 0xAB]), to: &wire)
        #expect(throws: SyncTreeError.self) { try Self.readFirst(wire, size: 4096) }
    }

    @Test func hostileDeflateLengthsAreRefusedBeforeAllocating() {
        var header = ByteBuffer()
        header.writeInteger(UInt8(5))
        header.writeVarInt(UInt64(1) << 40)
        header.writeVarInt(16)
        #expect(throws: (any Error).self) { _ = try ContentRecord.readHeader(from: &header) }
    }
}
