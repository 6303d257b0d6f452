/// How a path is kept in text columns: exactly as it is when that is possible, escaped only
/// when it is not.
extension RelativePath {
    /// The path as stored: the name itself when it is valid UTF-8 without control characters
    /// (a quote or a backslash included), else the reversible ``escaped`` form. `escaped` says
    /// which, so both forms read back to the same bytes.
    public var storedForm: (text: String, escaped: Bool) {
        Self.storedForm(of: bytes)
    }

    /// ``storedForm`` of arbitrary bytes.
    public static func storedForm(of bytes: [UInt8]) -> (text: String, escaped: Bool) {
        if isPlainText(bytes), let text = String(validating: bytes, as: UTF8.self) {
            return (text, false)
        }
        return (escape(bytes), true)
    }

    /// The bytes of a stored path; `nil` when an escaped text is malformed.
    public static func bytes(stored text: String, escaped: Bool) -> [UInt8]? {
        escaped ? unescape(text) : Array(text.utf8)
    }

    /// The text a person is shown: the name itself when it is plain, else the escaped form.
    public static func displayText(stored text: String, escaped: Bool) -> String {
        guard escaped, let bytes = unescape(text) else { return text }
        return storedForm(of: bytes).text
    }

    private static func isPlainText(_ bytes: [UInt8]) -> Bool {
        !bytes.contains { $0 < 0x20 || $0 == 0x7F }
    }
}
