import ArgumentParser
import RemoteClient
import RemoteProtocol
import SyncFileSystem
import SyncRunner
import SyncTrees

/// The run's trees: a local path, or a `hasync://` peer reached over its own connection.
struct PeerConnections: Sendable {
    private let connections: [String: RemoteConnection]

    /// Parses the remote sides and sets up their connections (nothing is sent yet).
    init(sides: [String], tokenFile: String?, trustFile: String?, compress: Bool = false) throws {
        if compress && !sides.contains(where: RunConfiguration.isRemote) {
            throw ValidationError("--compress compresses what crosses the network to a hasync:// peer, and no side is one")
        }
        var connections: [String: RemoteConnection] = [:]
        for side in sides where RunConfiguration.isRemote(side) {
            let url: RemoteURL
            do {
                url = try RemoteURL(parsing: side)
            } catch {
                throw ValidationError("\(error)")
            }
            guard let tokenFile else {
                throw ValidationError("\(side) is a remote peer: give its token with --peer-token-file (or HA_SYNC_PEER_TOKEN_FILE)")
            }
            do {
                connections[side] = try RemoteConnection(url: url, tokenFile: tokenFile, trustFile: trustFile, compress: compress)
            } catch {
                throw ValidationError("\(error)")
            }
        }
        self.connections = connections
    }

    /// Opens a side: for a peer, connects and checks the token and the root.
    func openTree(_ side: String) throws -> AnySyncTree {
        if let connection = connections[side] {
            return AnySyncTree(try RemoteTree(connection: connection))
        }
        return AnySyncTree(try LocalTree(root: side))
    }

    func shutdown() {
        for connection in connections.values { connection.shutdown() }
    }
}
