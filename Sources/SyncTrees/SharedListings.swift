import Foundation
public import SyncCore

/// One walk of a source for several destinations (fan-out): each folder is read once and its
/// listing handed to every destination that asks for it.
///
/// Destinations walk at their own pace. A listing waits here until every destination still in
/// the run has taken it, up to ``capacity`` entries in all; past that the oldest listings are
/// dropped, and a destination that falls that far behind reads those folders again itself. So
/// a slow destination costs memory up to the bound and then source reads, never the others'
/// time. The calls block (they run on the engine's I/O threads, as every tree call does).
public final class SharedListings: @unchecked Sendable {
    /// What this sharing saved and cost, for the run's log.
    public struct Statistics: Sendable, Hashable {
        /// Folders read from the source on behalf of every destination.
        public var sharedReads = 0
        /// Listings a destination took from another's read.
        public var hits = 0
        /// Folders a destination read again because it fell behind (its listing was dropped).
        public var rereads = 0
    }

    private struct Key: Hashable {
        var path: RelativePath
        var kindsOnly: Bool
    }

    private enum Slot {
        case loading
        case ready(Result<DirectoryListing, any Error>, waiting: Set<Int>)
    }

    /// Listing entries kept for destinations that have not taken them yet.
    public let capacity: Int
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var slots: [Key: Slot] = [:]
    private var order: [Key] = []
    private var orderStart = 0
    private var cachedEntries = 0
    private var active: Set<Int>
    private var dropped: Set<Key> = []
    private var statistics = Statistics()

    /// Sharing among `consumers` destinations, numbered from 0.
    public init(consumers: Int, capacity: Int = 200_000) {
        precondition(consumers > 0, "at least one destination")
        self.capacity = capacity
        self.active = Set(0..<consumers)
    }

    /// The source as destination `consumer` sees it.
    public func tree<Base: SyncTree>(_ base: Base, consumer: Int) -> SharedSourceTree<Base> {
        SharedSourceTree(base: base, listings: self, consumer: consumer)
    }

    public var currentStatistics: Statistics {
        condition.lock()
        defer { condition.unlock() }
        return statistics
    }

    /// Listing entries held for destinations that have not taken them yet.
    public var keptEntries: Int {
        condition.lock()
        defer { condition.unlock() }
        return cachedEntries
    }

    /// A destination is done (finished or failed): nothing more is kept for it.
    public func leave(_ consumer: Int) {
        condition.lock()
        defer { condition.unlock() }
        active.remove(consumer)
        for (key, slot) in slots {
            guard case .ready(let result, var waiting) = slot, waiting.contains(consumer) else { continue }
            waiting.remove(consumer)
            if waiting.isEmpty {
                remove(key, result: result)
            } else {
                slots[key] = .ready(result, waiting: waiting)
            }
        }
    }

    func listing(_ path: RelativePath, kindsOnly: Bool, consumer: Int, load: () throws -> DirectoryListing) throws -> DirectoryListing {
        let key = Key(path: path, kindsOnly: kindsOnly)
        condition.lock()
        while true {
            switch slots[key] {
            case .loading?:
                condition.wait()
            case .ready(let result, var waiting)?:
                waiting.remove(consumer)
                if waiting.isEmpty {
                    remove(key, result: result)
                } else {
                    slots[key] = .ready(result, waiting: waiting)
                }
                statistics.hits += 1
                condition.unlock()
                return try result.get()
            case nil:
                if dropped.contains(key) {
                    // Fell behind: this destination reads the folder itself; nobody else needs it.
                    statistics.rereads += 1
                    condition.unlock()
                    return try load()
                }
                slots[key] = .loading
                condition.unlock()
                let result = Result { try load() }
                condition.lock()
                statistics.sharedReads += 1
                let waiting = active.subtracting([consumer])
                if waiting.isEmpty {
                    slots[key] = nil
                } else {
                    slots[key] = .ready(result, waiting: waiting)
                    order.append(key)
                    cachedEntries += Self.entries(result)
                    evictOverCapacity()
                    // Keys of listings every destination has taken linger in `order`: drop them
                    // now and then, so it stays proportional to what is kept.
                    if order.count - orderStart > 2 * slots.count + 4096 {
                        order = order[orderStart...].filter { slots[$0] != nil }
                        orderStart = 0
                    }
                }
                condition.broadcast()
                condition.unlock()
                return try result.get()
            }
        }
    }

    private func remove(_ key: Key, result: Result<DirectoryListing, any Error>) {
        slots[key] = nil
        cachedEntries -= Self.entries(result)
    }

    /// Drops the oldest listings still waiting for a slow destination until the rest fit.
    private func evictOverCapacity() {
        while cachedEntries > capacity && orderStart < order.count {
            let key = order[orderStart]
            orderStart += 1
            guard case .ready(let result, _)? = slots[key] else { continue }
            remove(key, result: result)
            dropped.insert(key)
        }
        if orderStart > 4096 && orderStart * 2 > order.count {
            order.removeFirst(orderStart)
            orderStart = 0
        }
    }

    private static func entries(_ result: Result<DirectoryListing, any Error>) -> Int {
        if case .success(let listing) = result { return max(1, listing.entries.count) }
        return 1
    }
}

/// A source tree whose folder listings are shared by the destinations of a fan-out run;
/// everything else goes straight to the tree it wraps.
public struct SharedSourceTree<Base: SyncTree>: ForwardingSyncTree, BatchingSyncTree {
    public let base: Base
    let listings: SharedListings
    let consumer: Int

    public var forwarded: any SyncTree { base }

    public func list(_ directory: RelativePath) throws -> DirectoryListing {
        try listings.listing(directory, kindsOnly: false, consumer: consumer) { try base.list(directory) }
    }

    public func listKinds(_ directory: RelativePath) throws -> DirectoryListing {
        try listings.listing(directory, kindsOnly: true, consumer: consumer) { try base.listKinds(directory) }
    }
}
