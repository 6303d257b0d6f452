public import NIOCore
public import SyncCore
public import SyncTrees

/// The binary encoding of the remote peer's messages, on top of `ByteBuffer`.
///
/// Integers are LEB128 varints (zigzag for signed ones), byte strings carry their length
/// first. Paths and names stay raw bytes end to end: a name that is not UTF-8 crosses the
/// wire unchanged. Every read throws ``WireError`` on truncated or malformed input, so a
/// hostile peer can only get its request refused.
extension ByteBuffer {
    public mutating func writeVarInt(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            writeInteger(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        writeInteger(UInt8(value))
    }

    public mutating func readVarInt() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard let byte: UInt8 = readInteger() else { throw WireError.truncated }
            guard shift < 64 else { throw WireError.malformed("varint too long") }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }

    public mutating func writeSigned(_ value: Int64) {
        writeVarInt(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    public mutating func readSigned() throws -> Int64 {
        let raw = try readVarInt()
        return Int64(bitPattern: raw >> 1) ^ -Int64(bitPattern: raw & 1)
    }

    /// Reads a length or count, refusing values above `limit`.
    public mutating func readCount(limit: Int) throws -> Int {
        let value = try readVarInt()
        guard value <= UInt64(limit) else { throw WireError.malformed("length \(value) over the limit of \(limit)") }
        return Int(value)
    }

    public mutating func writeBlob(_ bytes: [UInt8]) {
        writeVarInt(UInt64(bytes.count))
        writeBytes(bytes)
    }

    public mutating func readBlob(limit: Int = WireLimits.maxBlob) throws -> [UInt8] {
        let count = try readCount(limit: limit)
        guard let bytes = readBytes(length: count) else { throw WireError.truncated }
        return bytes
    }

    public mutating func writeText(_ text: String) {
        writeBlob(Array(text.utf8))
    }

    public mutating func readText() throws -> String {
        String(decoding: try readBlob(), as: UTF8.self)
    }

    public mutating func writeBool(_ value: Bool) {
        writeInteger(UInt8(value ? 1 : 0))
    }

    public mutating func readBool() throws -> Bool {
        guard let byte: UInt8 = readInteger() else { throw WireError.truncated }
        return byte != 0
    }

    public mutating func writePath(_ path: RelativePath) {
        writeBlob(path.bytes)
    }

    /// Reads a path and checks it stays inside the tree (see ``RemotePath``).
    public mutating func readPath() throws -> RelativePath {
        try RemotePath.validate(try readBlob(limit: WireLimits.maxPath))
    }

    public mutating func writeTimestamp(_ time: Timestamp) {
        writeSigned(time.seconds)
        writeVarInt(UInt64(max(0, time.nanoseconds)))
    }

    public mutating func readTimestamp() throws -> Timestamp {
        let seconds = try readSigned()
        let nanoseconds = try readVarInt()
        guard nanoseconds < 1_000_000_000 else { throw WireError.malformed("nanoseconds out of range") }
        return Timestamp(seconds: seconds, nanoseconds: Int64(nanoseconds))
    }

    public mutating func writeKind(_ kind: EntryKind) {
        let code: UInt8 =
            switch kind {
            case .file: 0
            case .directory: 1
            case .symlink: 2
            case .other: 3
            }
        writeInteger(code)
    }

    public mutating func readKind() throws -> EntryKind {
        guard let code: UInt8 = readInteger() else { throw WireError.truncated }
        switch code {
        case 0: return .file
        case 1: return .directory
        case 2: return .symlink
        case 3: return .other
        default: throw WireError.malformed("unknown entry kind \(code)")
        }
    }

    public mutating func writeEntry(_ entry: Entry) {
        writeBlob(entry.name)
        writeKind(entry.kind)
        writeSigned(entry.size)
        writeTimestamp(entry.modified)
        writeVarInt(UInt64(entry.permissions))
        if let target = entry.symlinkTarget {
            writeBool(true)
            writeBlob(target)
        } else {
            writeBool(false)
        }
    }

    public mutating func readEntry() throws -> Entry {
        let name = try readBlob(limit: WireLimits.maxName)
        let kind = try readKind()
        let size = try readSigned()
        let modified = try readTimestamp()
        let permissions = UInt32(truncatingIfNeeded: try readVarInt()) & 0o7777
        let target = try readBool() ? try readBlob(limit: WireLimits.maxPath) : nil
        return Entry(name: name, kind: kind, size: size, modified: modified, permissions: permissions, symlinkTarget: target)
    }

    public mutating func writeOptionalEntry(_ entry: Entry?) {
        writeBool(entry != nil)
        if let entry { writeEntry(entry) }
    }

    public mutating func readOptionalEntry() throws -> Entry? {
        try readBool() ? try readEntry() : nil
    }

    public mutating func writeAttributes(_ attributes: FileAttributes) {
        writeSigned(attributes.size)
        writeTimestamp(attributes.modified)
        writeVarInt(UInt64(attributes.permissions))
        writeVarInt(attributes.owner.map { UInt64($0) + 1 } ?? 0)
        writeVarInt(attributes.group.map { UInt64($0) + 1 } ?? 0)
    }

    public mutating func readAttributes() throws -> FileAttributes {
        let size = try readSigned()
        guard size >= 0 else { throw WireError.malformed("negative size") }
        let modified = try readTimestamp()
        let permissions = UInt32(truncatingIfNeeded: try readVarInt()) & 0o7777
        let owner = try readVarInt()
        let group = try readVarInt()
        return FileAttributes(
            size: size, modified: modified, permissions: permissions,
            owner: owner == 0 ? nil : UInt32(truncatingIfNeeded: owner - 1),
            group: group == 0 ? nil : UInt32(truncatingIfNeeded: group - 1))
    }

    public mutating func writeListing(_ listing: DirectoryListing) {
        writeVarInt(UInt64(listing.entries.count))
        for entry in listing.entries { writeEntry(entry) }
        writeVarInt(UInt64(listing.temporaryFiles.count))
        for name in listing.temporaryFiles { writeBlob(name) }
        writeVarInt(UInt64(listing.failures.count))
        for failure in listing.failures { writeTreeError(failure) }
    }

    public mutating func readListing() throws -> DirectoryListing {
        var listing = DirectoryListing()
        let count = try readCount(limit: WireLimits.maxEntries)
        listing.entries.reserveCapacity(count)
        for _ in 0..<count { listing.entries.append(try readEntry()) }
        for _ in 0..<(try readCount(limit: WireLimits.maxEntries)) { listing.temporaryFiles.append(try readBlob(limit: WireLimits.maxName)) }
        for _ in 0..<(try readCount(limit: WireLimits.maxEntries)) { listing.failures.append(try readTreeError()) }
        return listing
    }

    /// A tree error keeps its code across the wire, so the engine decides on a remote
    /// failure exactly as on a local one (a vanished source, a target changed meanwhile).
    public mutating func writeTreeError(_ error: SyncTreeError) {
        writeText(error.code.rawValue)
        writeText(error.operation)
        writeBool(error.path != nil)
        if let path = error.path { writePath(path) }
        // errno is turned into words here: the peer's C library may word it differently.
        var detail = error.detail
        if let number = error.errno {
            let text = String(cString: strerror(number))
            detail = detail.map { "\($0): \(text)" } ?? text
        }
        writeBool(detail != nil)
        if let detail { writeText(detail) }
    }

    public mutating func readTreeError() throws -> SyncTreeError {
        let code = SyncTreeError.Code(rawValue: try readText()) ?? .io
        let operation = try readText()
        let path = try readBool() ? RelativePath(unchecked: try readBlob(limit: WireLimits.maxPath)) : nil
        let detail = try readBool() ? try readText() : nil
        return SyncTreeError(code: code, operation: operation, path: path, detail: detail)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Bounds on what a message may claim, so a hostile length cannot make a peer allocate gigabytes.
public enum WireLimits {
    public static let maxName = 4096
    public static let maxPath = 16 * 1024
    public static let maxBlob = 1 << 20
    public static let maxEntries = 50_000_000
    /// Files per batched read or write request.
    public static let maxBatch = 4096
    /// Bytes of one literal record.
    public static let maxLiteral = 4 << 20
}

/// A message that could not be decoded.
public enum WireError: Error, Sendable, CustomStringConvertible, Equatable {
    case truncated
    case malformed(String)

    public var description: String {
        switch self {
        case .truncated: "truncated message from the peer"
        case .malformed(let what): "malformed message from the peer: \(what)"
        }
    }
}
