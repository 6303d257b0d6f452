import NIOCore
import SyncCore

/// The entries of one folder as one blob, sorted by name bytes.
///
/// Per entry, little-endian: name length (u16), name, kind (u8), size (i64), mtime in ns
/// (i64), permissions (u32), link target length (u16, 0xFFFF for none), target. Decoding a
/// folder is one pass over one buffer: no per-row work in the database.
enum FolderRecord {
    static func encode(_ entries: [Entry]) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: entries.reduce(0) { $0 + $1.name.count + 27 + ($1.symlinkTarget?.count ?? 0) })
        for entry in entries {
            buffer.writeInteger(UInt16(entry.name.count), endianness: .little)
            buffer.writeBytes(entry.name)
            buffer.writeInteger(UInt8(code(entry.kind)))
            buffer.writeInteger(entry.size, endianness: .little)
            buffer.writeInteger(entry.modified.totalNanoseconds, endianness: .little)
            buffer.writeInteger(entry.permissions, endianness: .little)
            if let target = entry.symlinkTarget {
                buffer.writeInteger(UInt16(target.count), endianness: .little)
                buffer.writeBytes(target)
            } else {
                buffer.writeInteger(UInt16.max, endianness: .little)
            }
        }
        return buffer
    }

    /// The entries, or `nil` when the blob is damaged.
    static func decode(_ blob: ByteBuffer) -> [Entry]? {
        var buffer = blob
        var entries: [Entry] = []
        while buffer.readableBytes > 0 {
            guard let nameLength = buffer.readInteger(endianness: .little, as: UInt16.self),
                let name = buffer.readBytes(length: Int(nameLength)),
                let kind = buffer.readInteger(as: UInt8.self),
                let size = buffer.readInteger(endianness: .little, as: Int64.self),
                let mtime = buffer.readInteger(endianness: .little, as: Int64.self),
                let permissions = buffer.readInteger(endianness: .little, as: UInt32.self),
                let targetLength = buffer.readInteger(endianness: .little, as: UInt16.self)
            else { return nil }
            var target: [UInt8]?
            if targetLength != UInt16.max {
                guard let bytes = buffer.readBytes(length: Int(targetLength)) else { return nil }
                target = bytes
            }
            entries.append(
                Entry(
                    name: name, kind: self.kind(Int(kind)), size: size, modified: timestamp(mtime), permissions: permissions,
                    symlinkTarget: target))
        }
        return entries
    }

    /// Inserts or replaces the entry with `entry`'s name, keeping the order.
    static func upsert(_ entry: Entry, into entries: inout [Entry]) {
        let index = position(of: entry.name, in: entries)
        if index < entries.count && entries[index].name == entry.name {
            entries[index] = entry
        } else {
            entries.insert(entry, at: index)
        }
    }

    static func remove(_ name: [UInt8], from entries: inout [Entry]) {
        let index = position(of: name, in: entries)
        if index < entries.count && entries[index].name == name { entries.remove(at: index) }
    }

    /// The first index whose name is not below `name`.
    static func position(of name: [UInt8], in entries: [Entry]) -> Int {
        var low = 0
        var high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if DirectoryMerge.compare(entries[middle].name, name) < 0 { low = middle + 1 } else { high = middle }
        }
        return low
    }

    static func timestamp(_ nanoseconds: Int64) -> Timestamp {
        let seconds = nanoseconds >= 0 ? nanoseconds / 1_000_000_000 : (nanoseconds - 999_999_999) / 1_000_000_000
        return Timestamp(seconds: seconds, nanoseconds: nanoseconds - seconds * 1_000_000_000)
    }

    static func code(_ kind: EntryKind) -> Int {
        switch kind {
        case .file: 1
        case .directory: 2
        case .symlink: 3
        case .other: 4
        }
    }

    static func kind(_ code: Int) -> EntryKind {
        switch code {
        case 1: .file
        case 2: .directory
        case 3: .symlink
        default: .other
        }
    }
}
