// swift-tools-version:6.0
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

/// Fault points the end-to-end tests use (crash after an audit commit). Debug builds only:
/// the release binaries in the image carry no test hook.
let testHooks: [SwiftSetting] = strict + [.define("HA_SYNC_TEST_HOOKS", .when(configuration: .debug))]

let package = Package(
    name: "ha-sync",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ha-sync", targets: ["ha-sync"]),
        .executable(name: "ha-sync-ui", targets: ["ha-sync-ui"]),
        .library(name: "SyncCore", targets: ["SyncCore"]),
        .library(name: "SyncTrees", targets: ["SyncTrees"]),
        .library(name: "SyncFileSystem", targets: ["SyncFileSystem"]),
        .library(name: "AuditLog", targets: ["AuditLog"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/vapor/sqlite-nio", from: "1.13.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        // --compress: deflate through the system's zlib (a dependency of the Swift toolchain itself).
        .package(url: "https://github.com/adam-fowler/compress-nio", from: "1.5.0"),
    ],
    targets: [
        // Pure decision logic: entries, comparison rules, plans, summaries. No I/O.
        .target(name: "SyncCore", swiftSettings: strict),
        // The SyncTree protocol every tree implements, its error type, and an in-memory tree. Light: no I/O of its own.
        .target(
            name: "SyncTrees",
            dependencies: ["SyncCore", "CSyncShims", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        // Linux syscalls Swift cannot call directly (openat2 is only reachable through syscall(2)).
        .target(name: "CSyncShims"),
        // The local tree: walking, hashing, atomic copy, delete.
        .target(
            name: "SyncFileSystem",
            dependencies: [
                "SyncCore", "SyncTrees", "CSyncShims",
            ],
            swiftSettings: strict
        ),
        // Walk + decide + apply with bounded parallelism.
        .target(
            name: "SyncEngine",
            dependencies: [
                "SyncCore", "SyncTrees",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            swiftSettings: strict
        ),
        // A bidirectional pair's state archive in SQLite (the protocol and the in-memory one are in SyncCore).
        .target(
            name: "StateArchiveSQLite",
            dependencies: [
                "SyncCore",
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The audit trail: records, the opslog, the AuditStore protocol, the SQLite store, the flusher.
        .target(
            name: "AuditLog",
            dependencies: [
                "SyncCore",
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: testHooks
        ),
        // MariaDB Connector/C, loaded at run time: a small blocking client.
        .target(name: "MariaDB", swiftSettings: strict),
        // The MySQL audit store, on the MariaDB client.
        .target(
            name: "AuditMySQL",
            dependencies: [
                "AuditLog", "MariaDB", "SyncCore",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The Kubernetes Lease: its object model and the acquire/renew/release rules (pure).
        .target(name: "KubernetesLease", dependencies: ["SyncCore"], swiftSettings: strict),
        // A small Kubernetes API client: configuration (in-cluster, kubeconfig) and Lease calls.
        .target(
            name: "KubernetesClient",
            dependencies: [
                "KubernetesLease", "RunLock", "SyncCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strict
        ),
        // The remote peer's wire format, delta algorithm and byte pipes: shared by client and server.
        .target(
            name: "RemoteProtocol",
            dependencies: [
                "SyncCore", "SyncTrees",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ],
            swiftSettings: strict
        ),
        // `ha-sync serve`: exports local trees over HTTP/2 and TLS.
        .target(
            name: "RemoteServer",
            dependencies: [
                "RemoteProtocol", "SyncCore", "SyncTrees", "SyncFileSystem",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHTTPTypesHTTP2", package: "swift-nio-extras"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strict
        ),
        // The client: a SyncTree on a remote `ha-sync serve`.
        .target(
            name: "RemoteClient",
            dependencies: [
                "RemoteProtocol", "SyncCore", "SyncTrees",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        // Run locks: the protocol, a local file lock, an in-memory lock for tests.
        .target(name: "RunLock", swiftSettings: strict),
        // DSN parsing and opening the audit store a DSN names: shared by both executables.
        .target(
            name: "AuditDSN",
            dependencies: ["AuditLog", "AuditMySQL", "MariaDB", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // One run as a library: configuration, injected parts, the runner, its Services.
        .target(
            name: "SyncRunner",
            dependencies: [
                "SyncCore", "SyncTrees", "SyncEngine", "RunLock", "AuditLog", "AuditDSN", "KubernetesClient", "KubernetesLease",
                "StateArchiveSQLite",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // The CLI: options into a RunConfiguration, console output, prune-history.
        .target(
            name: "HASyncCommand",
            dependencies: [
                "SyncCore", "SyncTrees", "SyncFileSystem", "SyncEngine", "SyncRunner", "AuditLog", "AuditDSN", "RunLock",
                "RemoteProtocol", "RemoteClient", "RemoteServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(name: "ha-sync", dependencies: ["HASyncCommand", "CSyncShims"], swiftSettings: strict),
        // The dashboard: a Hummingbird application that reads the audit store.
        .target(
            name: "Dashboard",
            dependencies: [
                "AuditLog", "SyncCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "ha-sync-ui",
            dependencies: [
                "Dashboard", "AuditLog", "AuditDSN",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),

        .target(name: "SyncTestSupport", dependencies: ["SyncCore"], path: "Tests/SyncTestSupport", swiftSettings: strict),
        .testTarget(name: "SyncCoreTests", dependencies: ["SyncCore"], swiftSettings: strict),
        .testTarget(name: "SyncFileSystemTests", dependencies: ["SyncFileSystem", "SyncTrees", "SyncTestSupport"], swiftSettings: strict),
        .testTarget(
            name: "SyncEngineTests", dependencies: ["SyncEngine", "SyncTrees", "SyncFileSystem", "SyncTestSupport", "StateArchiveSQLite"],
            swiftSettings: strict),
        .testTarget(name: "RunLockTests", dependencies: ["RunLock", "SyncTestSupport"], swiftSettings: strict),
        .testTarget(
            name: "RemoteProtocolTests",
            dependencies: [
                "RemoteProtocol", "SyncCore", "SyncTrees", "SyncFileSystem", "SyncTestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ],
            swiftSettings: strict),
        .testTarget(name: "KubernetesLeaseTests", dependencies: ["KubernetesLease", "SyncCore"], swiftSettings: strict),
        .target(
            name: "KubernetesTestSupport",
            dependencies: [
                "KubernetesLease",
                "SyncTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Tests/KubernetesTestSupport",
            swiftSettings: strict
        ),
        .testTarget(
            name: "KubernetesClientTests",
            dependencies: ["KubernetesClient", "KubernetesLease", "KubernetesTestSupport", "RunLock", "SyncCore", "SyncTestSupport"],
            swiftSettings: strict
        ),
        .target(name: "AuditTestSupport", dependencies: ["AuditLog"], path: "Tests/AuditTestSupport", swiftSettings: strict),
        .testTarget(
            name: "AuditLogTests",
            dependencies: ["AuditLog", "AuditTestSupport", "SyncTestSupport", .product(name: "SQLiteNIO", package: "sqlite-nio")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "DashboardTests",
            dependencies: [
                "Dashboard", "AuditLog", "AuditDSN", "AuditTestSupport", "SyncCore", "SyncTestSupport", "ha-sync-ui",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: strict
        ),
        .target(name: "MariaDBTestSupport", dependencies: ["SyncTestSupport"], path: "Tests/MariaDBTestSupport", swiftSettings: strict),
        .testTarget(
            name: "AuditMySQLTests",
            dependencies: ["AuditMySQL", "AuditLog", "AuditDSN", "MariaDB", "AuditTestSupport", "MariaDBTestSupport", "SyncTestSupport"],
            swiftSettings: strict
        ),
        .testTarget(name: "HASyncCommandTests", dependencies: ["HASyncCommand", "AuditDSN", "SyncRunner", "SyncCore"], swiftSettings: strict),
        .testTarget(
            name: "SyncRunnerTests",
            dependencies: ["SyncRunner", "SyncEngine", "SyncTrees", "SyncCore", "RunLock", "AuditLog", "SyncTestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "SyncTestSupport", "SyncCore", "AuditLog", "AuditMySQL", "MariaDB", "MariaDBTestSupport", "KubernetesTestSupport", "KubernetesLease",
                "ha-sync", "RemoteProtocol", "RemoteClient", "SyncTrees", .product(name: "Yams", package: "Yams"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
            ],
            exclude: ["Resources"],
            swiftSettings: strict
        ),
    ]
)
