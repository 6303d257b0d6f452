/// How a folder's operations travel to the I/O pool: small files share a batch (one trip
/// for many), and a large file gets a batch of its own, so small files never wait behind it.
enum OperationBatches {
    /// Batches close at this many operations or bytes.
    static let maxOperations = 64
    static let maxBytes: Int64 = 8 << 20

    /// Splits `items`, in order, into batches with their byte totals.
    static func split<Item>(_ items: [Item], bytes: (Item) -> Int64) -> [(items: [Item], bytes: Int64)] {
        var batches: [(items: [Item], bytes: Int64)] = []
        var current: [Item] = []
        var currentBytes: Int64 = 0
        for item in items {
            let size = bytes(item)
            if size >= maxBytes && !current.isEmpty {
                batches.append((current, currentBytes))
                current = []
                currentBytes = 0
            }
            current.append(item)
            currentBytes += size
            if current.count >= maxOperations || currentBytes >= maxBytes {
                batches.append((current, currentBytes))
                current = []
                currentBytes = 0
            }
        }
        if !current.isEmpty { batches.append((current, currentBytes)) }
        return batches
    }
}
