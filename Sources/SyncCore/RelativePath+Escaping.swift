/// A reversible text form of byte paths.
///
/// Valid UTF-8 stays as it is, except that a backslash becomes `\\` and control
/// characters (0x00-0x1F, 0x7F) become `\xNN`. Every byte that is not part of a valid
/// UTF-8 sequence becomes `\xNN` too. Because the backslash itself is escaped,
/// ``RelativePath/init(escaped:)`` restores the exact bytes.
extension RelativePath {
    /// The escaped text form of the path.
    public var escaped: String { Self.escape(bytes) }

    /// Restores a path from its escaped form; `nil` if `text` is not a valid escaped form.
    public init?(escaped text: String) {
        guard let bytes = Self.unescape(text) else { return nil }
        self.init(unchecked: bytes)
    }

    static let hexDigits = Array("0123456789abcdef".utf8)

    /// Escapes arbitrary bytes into the reversible text form.
    public static func escape(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        func appendHex(_ byte: UInt8) {
            out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "x"), hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0xF)]])
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\\") {
                out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
                index += 1
            } else if byte < 0x20 || byte == 0x7F {
                appendHex(byte)
                index += 1
            } else if byte < 0x80 {
                out.append(byte)
                index += 1
            } else if let length = validUTF8SequenceLength(bytes, at: index) {
                out.append(contentsOf: bytes[index..<(index + length)])
                index += length
            } else {
                appendHex(byte)
                index += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Reverses ``escape(_:)``.
    public static func unescape(_ text: String) -> [UInt8]? {
        let input = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(input.count)
        var index = 0
        while index < input.count {
            let byte = input[index]
            guard byte == UInt8(ascii: "\\") else {
                out.append(byte)
                index += 1
                continue
            }
            guard index + 1 < input.count else { return nil }
            switch input[index + 1] {
            case UInt8(ascii: "\\"):
                out.append(UInt8(ascii: "\\"))
                index += 2
            case UInt8(ascii: "x"):
                guard index + 3 < input.count, let high = hexValue(input[index + 2]), let low = hexValue(input[index + 3]) else {
                    return nil
                }
                out.append(high << 4 | low)
                index += 4
            default:
                return nil
            }
        }
        return out
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// Length of the well-formed UTF-8 sequence starting at `index` (a lead byte >= 0x80), or nil.
    private static func validUTF8SequenceLength(_ bytes: [UInt8], at index: Int) -> Int? {
        let lead = bytes[index]
        let length: Int
        var lowerBound: UInt8 = 0x80
        var upperBound: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0:
            length = 3
            lowerBound = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED:
            length = 3
            upperBound = 0x9F  // no UTF-16 surrogates
        case 0xF0:
            length = 4
            lowerBound = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4:
            length = 4
            upperBound = 0x8F
        default: return nil
        }
        guard index + length <= bytes.count else { return nil }
        let second = bytes[index + 1]
        guard second >= lowerBound && second <= upperBound else { return nil }
        for offset in 2..<length where bytes[index + offset] & 0xC0 != 0x80 {
            return nil
        }
        return length
    }
}
