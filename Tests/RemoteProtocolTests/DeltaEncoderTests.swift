import Crypto
import Foundation
import RemoteProtocol
import SyncTrees
import Testing

/// The delta algorithm on its own: whatever the old and new content, applying the records
/// to the old copy gives the new content, and unchanged blocks are never sent.
@Suite("Delta encoder")
struct DeltaEncoderTests {
    static let key = BlockKey.random()

    /// Encodes `new` against the signatures of `old`, rebuilds it from `old` and the records.
    func roundTrip(old: [UInt8], new: [UInt8], blockSize: Int = 2048, own: [UInt8]? = nil) throws -> (
        rebuilt: [UInt8], outcome: DeltaEncoder.Outcome
    ) {
        let signatures = try self.signatures(of: old, blockSize: blockSize)
        #expect(signatures.blocks.count == old.count / blockSize)
        var rebuilt: [UInt8] = []
        let outcome = try DeltaEncoder(signatures: signatures, own: try own.map { try self.signatures(of: $0, blockSize: blockSize) }).encode(
            size: Int64(new.count), read: reading(new, piece: 777),  // odd read sizes, as from a network stream
            emit: { record in
                switch record {
                case .literal(let bytes): rebuilt += bytes
                case .copy(let offset, let length): rebuilt += old[Int(offset)..<Int(offset + length)]
                }
            })
        return (rebuilt, outcome)
    }

    func signatures(of content: [UInt8], blockSize: Int) throws -> BlockSignatures {
        try BlockSignatures.compute(blockSize: blockSize, key: Self.key, read: reading(content))
    }

    /// Reads `content` front to back, at most `piece` bytes a call.
    func reading(_ content: [UInt8], piece: Int = .max) -> (UnsafeMutableRawBufferPointer) throws -> Int {
        var offset = 0
        return { buffer in
            let count = min(buffer.count, content.count - offset, piece)
            content[offset..<(offset + count)].withUnsafeBytes { buffer.copyMemory(from: $0) }
            offset += count
            return count
        }
    }

    func random(_ count: Int, seed: inout UInt64) -> [UInt8] {
        (0..<count).map { _ in
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: seed >> 33)
        }
    }

    @Test func aChangeInTheMiddleSendsAboutOneBlock() throws {
        var seed: UInt64 = 1
        let old = random(1 << 20, seed: &seed)
        var new = old
        for index in 500_000..<500_100 { new[index] ^= 0xFF }
        let (rebuilt, outcome) = try roundTrip(old: old, new: new)
        #expect(rebuilt == new)
        #expect(outcome.literalBytes <= 2 * 2048 + 100)
        #expect(outcome.copiedBytes >= Int64(old.count) - 2 * 2048 - 100)
        #expect(outcome.totalBytes == Int64(new.count))
    }

    @Test func theNewContentsOwnSignaturesGiveTheSameRecords() throws {
        var seed: UInt64 = 8
        let old = random(1 << 20, seed: &seed)
        var new = old
        for index in 300_000..<300_100 { new[index] ^= 0xFF }
        new.insert(contentsOf: random(5, seed: &seed), at: 700_000)  // and a shift after it
        let plain = try roundTrip(old: old, new: new)
        let helped = try roundTrip(old: old, new: new, own: new)
        #expect(helped.rebuilt == new)
        #expect(helped.outcome == plain.outcome)
    }

    @Test func theDigestIsTheContentsBlockDigestWithOrWithoutItsOwnSignatures() throws {
        var seed: UInt64 = 9
        let old = random(200_000, seed: &seed)
        var new = old
        for index in 100_000..<104_096 { new[index] &+= 1 }
        new += random(1000, seed: &seed)  // a short last block
        var expected = BlockDigest(size: Int64(new.count), blockSize: 2048, key: Self.key)
        new.withUnsafeBytes { expected.add($0) }
        let digest = expected.finalize()
        let (rebuilt, outcome) = try roundTrip(old: old, new: new)
        #expect(rebuilt == new)
        #expect(outcome.digest == digest)
        // With its own signatures the sender hashes no block they cover, and gets the same.
        let (again, known) = try roundTrip(old: old, new: new, own: new)
        #expect(again == new)
        #expect(known.digest == digest)
        #expect(digest != Array(SHA256.hash(data: new)), "not the whole-content SHA-256 of a plain transfer")
    }

    @Test func blockHashesDependOnTheBytesAndTheKey() throws {
        let one = [UInt8](repeating: 1, count: 4096)
        var other = one
        other[4095] = 2
        let key = BlockKey.random()
        let another = BlockKey.random()
        one.withUnsafeBytes { first in
            other.withUnsafeBytes { second in
                #expect(key.hash(first) == key.hash(first))
                #expect(key.hash(first) != key.hash(second), "one byte apart")
                #expect(key.hash(first) != another.hash(first), "the same bytes under another key")
            }
        }
        #expect(BlockKey(bytes: key.bytes) == key)
        #expect(BlockKey(bytes: [UInt8](repeating: 0, count: 15)) == nil)
    }

    @Test func insertedBytesShiftEverythingAfterThemAndStillMatch() throws {
        var seed: UInt64 = 2
        let old = random(300_000, seed: &seed)
        let new = Array(old[..<1000]) + random(13, seed: &seed) + Array(old[1000...])
        let (rebuilt, outcome) = try roundTrip(old: old, new: new)
        #expect(rebuilt == new)
        #expect(outcome.literalBytes < 3 * 2048)
    }

    @Test func randomEditsAlwaysRebuildTheNewContent() throws {
        var seed: UInt64 = 3
        for round in 0..<40 {
            let old = random(Int(seed % 40_000), seed: &seed)
            var new = old
            for _ in 0..<Int(seed % 6) {
                let position = new.isEmpty ? 0 : Int(seed % UInt64(new.count))
                switch seed % 3 {
                case 0: new.insert(contentsOf: random(Int(seed % 300), seed: &seed), at: position)
                case 1: new.removeSubrange(position..<min(new.count, position + Int(seed % 3000)))
                default: if !new.isEmpty { new[position] &+= 1 }
                }
                _ = random(1, seed: &seed)
            }
            let (rebuilt, _) = try roundTrip(old: old, new: new, blockSize: 512 + Int(seed % 3) * 512)
            #expect(rebuilt == new, "round \(round)")
        }
    }

    @Test func aLongUnchangedRunIsSentWhileItIsRead() throws {
        var seed: UInt64 = 6
        let limit = 64 * 1024
        let old = random(3 * limit + 5000, seed: &seed)
        var copies: [Int64] = []
        _ = try DeltaEncoder(signatures: try signatures(of: old, blockSize: 2048), copyRecordLimit: Int64(limit)).encode(
            size: Int64(old.count), read: reading(old, piece: 8192),
            emit: { record in
                if case .copy(_, let length) = record { copies.append(length) }
            })
        #expect(copies.count >= 3)
        #expect(copies.allSatisfy { $0 <= Int64(limit) }, "a run longer than the limit leaves in pieces")
        #expect(copies.reduce(0, +) == Int64(old.count / 2048 * 2048))
    }

    @Test func repeatedBlocksStillCopyInOneRecord() throws {
        // Every block alike (a disk image's empty space): each matches all of them, and the
        // copy must go on with the next one rather than restart at the first.
        var seed: UInt64 = 7
        let block = random(2048, seed: &seed)
        let old = Array((0..<64).map { _ in block }.joined())
        var records = 0
        let outcome = try DeltaEncoder(signatures: try signatures(of: old, blockSize: 2048)).encode(
            size: Int64(old.count), read: reading(old), emit: { _ in records += 1 })
        #expect(outcome.copiedBytes == Int64(old.count))
        #expect(records == 1)
    }

    @Test func withoutAnOldCopyEverythingIsLiteral() throws {
        var seed: UInt64 = 4
        let new = random(100_000, seed: &seed)
        let (rebuilt, outcome) = try roundTrip(old: [], new: new)
        #expect(rebuilt == new)
        #expect(outcome.literalBytes == Int64(new.count))
    }

    @Test func blockSizesGrowWithTheFile() {
        #expect(BlockSignatures.blockSize(forFileSize: 0) == 2048)
        #expect(BlockSignatures.blockSize(forFileSize: 1 << 30) == 32 * 1024)
        #expect(BlockSignatures.blockSize(forFileSize: 1 << 40) == 128 * 1024)
    }

    @Test func theWeakChecksumIsRsyncsSumsAtEveryLength() {
        var seed: UInt64 = 10
        let data = random(700, seed: &seed)
        data.withUnsafeBytes { bytes in
            for length in 0...data.count {
                // The definition: s1 the bytes' sum, s2 the sum of the running s1.
                var s1: UInt32 = 0
                var s2: UInt32 = 0
                for byte in data[..<length] {
                    s1 &+= UInt32(byte)
                    s2 &+= s1
                }
                let value = RollingChecksum(UnsafeRawBufferPointer(rebasing: bytes[..<length])).value
                #expect(value == (s1 & 0xFFFF) | (s2 << 16), "length \(length)")
            }
        }
    }

    @Test func theRollingChecksumEqualsAFreshOneAtEveryOffset() {
        var seed: UInt64 = 5
        let data = random(5000, seed: &seed)
        let window = 700
        data.withUnsafeBytes { bytes in
            var rolling = RollingChecksum(UnsafeRawBufferPointer(rebasing: bytes[0..<window]))
            for start in 1..<(data.count - window) {
                rolling.roll(out: data[start - 1], in: data[start + window - 1])
                #expect(rolling.value == RollingChecksum(UnsafeRawBufferPointer(rebasing: bytes[start..<(start + window)])).value)
            }
        }
    }
}
