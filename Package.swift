// swift-tools-version: 6.2
import PackageDescription

// Backends depend on `Coordination` only; recipes and the scheduler never import a backend.
// The CLI is the one place that knows every backend (its store-URL registry).
let package = Package(
    name: "Coordination",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Coordination", targets: ["Coordination"]),
        .library(name: "CoordinationMemory", targets: ["CoordinationMemory"]),
        .library(name: "CoordinationTesting", targets: ["CoordinationTesting"]),
        .library(name: "CoordinationRecipes", targets: ["CoordinationRecipes"]),
        .library(name: "CoordinationScheduler", targets: ["CoordinationScheduler"]),
        .library(name: "CoordinationZooKeeper", targets: ["CoordinationZooKeeper"]),
        .library(name: "CoordinationEtcd", targets: ["CoordinationEtcd"]),
        .library(name: "CoordinationMigration", targets: ["CoordinationMigration"]),
        .executable(name: "coord", targets: ["coord"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.4.0"),
        // The scheduler's metrics, emitted through whatever backend the application bootstraps.
        .package(url: "https://github.com/apple/swift-metrics", from: "2.4.0"),
        // Tests only: generated inputs for the parsers (keys, URLs, config files, gateway replies).
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.0"),
    ],
    targets: [
        // The contract: protocol, keys, records, errors, sessions, watches, store URLs.
        .target(
            name: "Coordination",
            dependencies: [.product(name: "Logging", package: "swift-log")]
        ),
        // The one way the libraries' `init(config:)` read swift-configuration settings (package
        // API only), so the contract module itself needs no configuration package.
        .target(
            name: "CoordinationConfigReading",
            dependencies: ["Coordination", .product(name: "Configuration", package: "swift-configuration")]
        ),
        // The embedded in-process store, the default backend.
        .target(
            name: "CoordinationMemory",
            dependencies: ["Coordination", .product(name: "Logging", package: "swift-log")]
        ),
        // Lock, election, membership, config watch…: written once, above the protocol.
        .target(
            name: "CoordinationRecipes",
            dependencies: ["Coordination", .product(name: "Logging", package: "swift-log")]
        ),
        // Jobs, workers, claims, placement, cron, sharding, history: built on the contract and the recipes.
        .target(
            name: "CoordinationScheduler",
            dependencies: [
                "Coordination",
                "CoordinationRecipes",
                "CoordinationConfigReading",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        // The public conformance suite every backend runs.
        .target(
            name: "CoordinationTesting",
            dependencies: ["Coordination", "CoordinationMemory"]
        ),

        // ZooKeeper: a thin system module over libzookeeper-mt and the store built on it.
        .systemLibrary(name: "CZooKeeper", path: "Backends/CZooKeeper"),
        .target(
            name: "CoordinationZooKeeper",
            dependencies: [
                "Coordination", "CoordinationConfigReading", "CZooKeeper", .product(name: "Logging", package: "swift-log"),
                .product(name: "Configuration", package: "swift-configuration"),
            ],
            path: "Backends/ZooKeeper"
        ),

        // etcd: a thin system module over libcurl and the store speaking the v3 JSON gateway.
        .systemLibrary(name: "CCurl", path: "Backends/CCurl"),
        .systemLibrary(name: "CProcessControl", path: "Sources/CProcessControl"),
        .target(
            name: "CoordinationEtcd",
            dependencies: [
                "Coordination", "CoordinationConfigReading", "CCurl", .product(name: "Logging", package: "swift-log"),
                .product(name: "Configuration", package: "swift-configuration"),
            ],
            path: "Backends/Etcd"
        ),

        // Copying a subtree between any two stores through the contract only: what `coord migrate` runs.
        .target(
            name: "CoordinationMigration",
            dependencies: ["Coordination", .product(name: "Logging", package: "swift-log")]
        ),

        // The `coord` command: commands as a library (testable), and a thin @main.
        .target(
            name: "CoordinationCLI",
            dependencies: [
                "Coordination",
                "CoordinationMigration",
                "CoordinationMemory",
                "CoordinationZooKeeper",
                "CoordinationEtcd",
                "CoordinationRecipes",
                "CoordinationScheduler",
                "CProcessControl",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(name: "coord", dependencies: ["CoordinationCLI"]),

        // ZooKeeper and etcd servers on loopback, started, faulted and stopped by their owner, and a
        // TCP relay that can be cut: shared by the tests and the chaos harness.
        .target(
            name: "CoordinationLocalServers",
            dependencies: ["Coordination"],
            path: "Tests/LocalServers"
        ),
        // The chaos harness: real clusters, `coord worker` processes, faults, a fencing sink, invariants.
        .target(
            name: "CoordinationChaos",
            dependencies: [
                "Coordination", "CoordinationScheduler", "CoordinationZooKeeper", "CoordinationEtcd", "CoordinationLocalServers",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "coord-chaos",
            dependencies: [
                "CoordinationChaos",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // What tests above the protocol share: the backends under test, opened and expired.
        .target(
            name: "CoordinationTestSupport",
            dependencies: [
                "Coordination", "CoordinationMemory", "CoordinationZooKeeper", "CoordinationEtcd", "CoordinationTesting",
                "CoordinationLocalServers",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/TestSupport"
        ),
        .testTarget(
            name: "CoordinationTests",
            dependencies: ["Coordination", .product(name: "PropertyBased", package: "swift-property-based")]
        ),
        .testTarget(
            name: "CoordinationSchedulerTests",
            dependencies: [
                "Coordination", "CoordinationScheduler", "CoordinationRecipes", "CoordinationMemory", "CoordinationTestSupport",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ]
        ),
        .testTarget(
            name: "CoordinationRecipesTests",
            dependencies: ["Coordination", "CoordinationRecipes", "CoordinationMemory", "CoordinationTestSupport"]
        ),
        .testTarget(
            name: "CoordinationMemoryTests",
            dependencies: [
                "Coordination", "CoordinationMemory", "CoordinationTesting",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "CoordinationZooKeeperTests",
            dependencies: [
                "Coordination", "CoordinationZooKeeper", "CoordinationTesting", "CoordinationTestSupport", "CoordinationLocalServers",
            ]
        ),
        .testTarget(
            name: "CoordinationEtcdTests",
            dependencies: [
                "Coordination", "CoordinationEtcd", "CoordinationTesting", "CoordinationTestSupport", "CoordinationLocalServers",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        // The libraries' `init(config:)` readers, fed by in-memory providers.
        .testTarget(
            name: "CoordinationConfigReaderTests",
            dependencies: [
                "Coordination", "CoordinationZooKeeper", "CoordinationEtcd", "CoordinationScheduler", "CoordinationTestSupport",
                .product(name: "Configuration", package: "swift-configuration"),
            ]
        ),
        .testTarget(
            name: "CoordinationCLITests",
            dependencies: [
                "CoordinationCLI", "CoordinationMigration", "Coordination", "CoordinationMemory", "CoordinationTestSupport",
                "CoordinationLocalServers", "CoordinationZooKeeper", "CoordinationEtcd",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "CoordinationChaosTests",
            dependencies: ["CoordinationChaos", "CoordinationScheduler", "CoordinationMemory", "CoordinationLocalServers"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
