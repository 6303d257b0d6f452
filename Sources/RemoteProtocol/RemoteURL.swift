/// Where a remote tree lives: `hasync://HOST[:PORT]/ROOT`.
public struct RemoteURL: Sendable, Hashable, CustomStringConvertible {
    public static let scheme = "hasync://"
    public static let defaultPort = 7443

    public var host: String
    public var port: Int
    /// The name the server exports the tree under (`--root NAME=PATH`).
    public var root: String

    public init(host: String, port: Int = RemoteURL.defaultPort, root: String) {
        self.host = host
        self.port = port
        self.root = root
    }

    /// Whether `text` names a remote tree rather than a local path.
    public static func isRemote(_ text: String) -> Bool {
        text.hasPrefix(scheme)
    }

    /// Parses `hasync://HOST[:PORT]/ROOT`; IPv6 hosts go in brackets.
    public init(parsing text: String) throws {
        guard text.hasPrefix(Self.scheme) else { throw RemoteURLError(text: text, reason: "it does not start with hasync://") }
        let rest = text.dropFirst(Self.scheme.count)
        guard let slash = rest.firstIndex(of: "/") else {
            throw RemoteURLError(text: text, reason: "the root name is missing (hasync://HOST:PORT/ROOT)")
        }
        let authority = rest[..<slash]
        var root = rest[rest.index(after: slash)...]
        if root.hasSuffix("/") { root = root.dropLast() }
        guard RemoteNames.isValid(String(root)) else {
            throw RemoteURLError(text: text, reason: "the root name must be letters, digits, '.', '_' or '-'")
        }
        var host: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw RemoteURLError(text: text, reason: "unclosed '[' in the host") }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") {
                portText = after.dropFirst()
            } else if !after.isEmpty {
                throw RemoteURLError(text: text, reason: "unexpected text after the host")
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        } else {
            host = authority
        }
        guard !host.isEmpty else { throw RemoteURLError(text: text, reason: "the host is missing") }
        var port = Self.defaultPort
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else {
                throw RemoteURLError(text: text, reason: "the port must be a number from 1 to 65535")
            }
            port = value
        }
        self.init(host: String(host), port: port, root: String(root))
    }

    /// The host as it goes into an https URL.
    var bracketedHost: String { host.contains(":") ? "[\(host)]" : host }

    /// The base of the HTTPS requests for this tree.
    public var baseURL: String { "https://\(bracketedHost):\(port)/v1/\(root)" }

    public var description: String { "\(Self.scheme)\(bracketedHost):\(port)/\(root)" }
}

/// A `hasync://` address that cannot be used.
public struct RemoteURLError: Error, Sendable, CustomStringConvertible {
    public var text: String
    public var reason: String

    public var description: String { "invalid remote address '\(text)': \(reason)" }
}

/// Names of exported roots: what a URL path segment and a Prometheus label carry unescaped.
public enum RemoteNames {
    public static func isValid(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 64
            && name.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x2E || byte == 0x5F
                    || byte == 0x2D
            } && name != "." && name != ".."
    }
}
