/// Names of conflict copies: `<stem>.conflict-<side>-<YYYYMMDD-HHMMSS>[-N]<.extension>`.
///
/// The time is the kept version's own mtime (UTC), so a dry run and the real run that follows
/// name the copy the same way, and the extension stays last so the copy still opens with the
/// right program. Names are bytes: a stem that is not UTF-8 is kept as it is.
public enum ConflictName {
    /// The marker every conflict copy's name contains.
    public static let marker = Array(".conflict-".utf8)

    /// A name for the losing version of `name`, unused by `taken`.
    /// - Parameters:
    ///   - label: the side the version came from (`a`, `b`, or a server name).
    ///   - taken: whether a candidate name exists on either side already.
    public static func make(for name: [UInt8], label: String, modified: Timestamp, taken: ([UInt8]) -> Bool) -> [UInt8] {
        let (stem, suffix) = split(name)
        let time = modified.utc
        let pad = UTCDateTime.pad
        let stamp = pad(time.year, 4) + pad(time.month, 2) + pad(time.day, 2) + "-" + pad(time.hour, 2) + pad(time.minute, 2) + pad(time.second, 2)
        let base = stem + marker + Array("\(label)-\(stamp)".utf8)
        var candidate = base + suffix
        var counter = 2
        while taken(candidate) || candidate.count > 255 {
            if candidate.count > 255 {
                // Keep within NAME_MAX: shorten the stem, never the marker or the time.
                let room = max(1, 255 - (candidate.count - stem.count) - 4)
                return make(for: Array(stem.prefix(room)) + suffix, label: label, modified: modified, taken: taken)
            }
            candidate = base + Array("-\(counter)".utf8) + suffix
            counter += 1
        }
        return candidate
    }

    /// Whether `name` looks like a conflict copy.
    public static func isConflictCopy(_ name: [UInt8]) -> Bool {
        guard name.count > marker.count else { return false }
        for start in 0...(name.count - marker.count) where name[start..<(start + marker.count)].elementsEqual(marker) {
            return true
        }
        return false
    }

    /// Stem and extension (with its dot). A leading dot is part of the stem (`.bashrc`), and an
    /// extension longer than 16 bytes is not one.
    static func split(_ name: [UInt8]) -> (stem: [UInt8], suffix: [UInt8]) {
        guard let dot = name.lastIndex(of: UInt8(ascii: ".")), dot > 0, name.count - dot <= 16, dot < name.count - 1 else {
            return (name, [])
        }
        return (Array(name[..<dot]), Array(name[dot...]))
    }
}
