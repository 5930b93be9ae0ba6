// swift-tools-version:6.1
import PackageDescription

// Imports point one way: GatewayCLI -> Gateway -> {Bus, Connection, MarketData, TLS} ->
// {NATS, WebSocket, HTTP, EventLoop}. MarketData, WebSocket and HTTP are pure (no sockets, no
// clocks) so tests drive them byte by byte. Connection is one WebSocket connection for both
// roles, on the loop: the gateway's connections and the load test's clients. ByteBuffers holds
// what the modules share: reference-counted frame bytes, growable scratch buffers, and the
// codecs more than one module reads with (JSONReader, Base64, header-field lookup).
/// Release builds of the hot-path modules skip the runtime exclusivity checks (an access-set
/// insertion per class-property access; docs/benchmarks-history.md has the cost). Debug builds, which every
/// test runs, keep them, and `EventLoop.assertOnLoopThread` with them.
let hotPath: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "Tickstream",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "gateway", targets: ["GatewayCLI"]),
        .executable(name: "loadtest", targets: ["loadtest"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", exact: "0.2.0"),
    ],
    targets: [
        .target(name: "CShims"),
        .target(name: "ByteBuffers"),
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        .target(
            name: "EventLoop",
            dependencies: [
                "CShims", "ByteBuffers",
            ],
            swiftSettings: hotPath
        ),
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .target(name: "HTTP", dependencies: ["ByteBuffers"]),
        .target(name: "WebSocket", dependencies: ["ByteBuffers", "HTTP", "COpenSSL", "CZlib"], swiftSettings: hotPath),
        .target(name: "MarketData", dependencies: ["ByteBuffers", "WebSocket"], swiftSettings: hotPath),
        // TLS through the system OpenSSL, driven by our loop: a `TransportSecurity` for StreamSocket.
        .target(name: "TLS", dependencies: ["COpenSSL", "EventLoop"], swiftSettings: hotPath),
        // Who may read what: JSON Web Tokens checked with OpenSSL at the upgrade.
        .target(name: "Auth", dependencies: ["ByteBuffers", "COpenSSL"]),
        // Feature flags: what a flag is, who has it (a stable cohort hash), its JSON. Pure.
        .target(name: "Flags", dependencies: ["ByteBuffers"]),
        // Our NATS client: the text protocol (pure, tested byte by byte) and a client on the loop.
        .target(name: "NATS", dependencies: ["ByteBuffers", "COpenSSL", "EventLoop"]),
        // The market bus: following symbols on NATS, one sequence per symbol for the fleet,
        // snapshots from a JetStream last-value stream.
        .target(name: "Bus", dependencies: ["EventLoop", "MarketData", "NATS"]),
        .target(name: "Connection", dependencies: ["ByteBuffers", "EventLoop", "HTTP", "WebSocket"], swiftSettings: hotPath),
        .target(
            name: "Gateway",
            dependencies: [
                "Auth", "Bus", "ByteBuffers", "CShims", "Connection", "EventLoop", "Flags", "HTTP", "WebSocket", "MarketData", "NATS", "TLS",
                .product(name: "Logging", package: "swift-log"),
            ],
            // The live page and its client are real files, embedded at build time.
            exclude: ["Web/page.html", "Web/tickstream.js"],
            swiftSettings: hotPath,
            plugins: ["EmbedWebFiles"]
        ),
        .executableTarget(name: "EmbedText", path: "Tools/EmbedText"),
        .plugin(name: "EmbedWebFiles", capability: .buildTool(), dependencies: ["EmbedText"]),
        .executableTarget(
            name: "GatewayCLI",
            dependencies: [
                "ByteBuffers", "Gateway",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "loadtest",
            dependencies: [
                "ByteBuffers", "Connection", "EventLoop", "HTTP", "WebSocket", "MarketData", "TLS",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            path: "loadtest",
            swiftSettings: hotPath
        ),
        // Fuzzing: one function per parser (fuzz/Targets), an executable per function for libFuzzer
        // (scripts/fuzz.sh builds them with -sanitize=fuzzer), and a test that replays the corpus.
        .target(name: "FuzzTargets", dependencies: ["Auth", "ByteBuffers", "HTTP", "MarketData", "NATS", "WebSocket"], path: "fuzz/Targets"),
        .target(name: "CFuzzing", path: "fuzz/CFuzzing"),
        .executableTarget(name: "FuzzFrameStream", dependencies: ["CFuzzing", "FuzzTargets"], path: "fuzz/Entry/FrameStream"),
        .executableTarget(name: "FuzzHTTPRequest", dependencies: ["CFuzzing", "FuzzTargets"], path: "fuzz/Entry/HTTPRequest"),
        .executableTarget(name: "FuzzCommand", dependencies: ["CFuzzing", "FuzzTargets"], path: "fuzz/Entry/Command"),
        .executableTarget(name: "FuzzFeed", dependencies: ["CFuzzing", "FuzzTargets"], path: "fuzz/Entry/Feed"),
        .executableTarget(name: "FuzzToken", dependencies: ["CFuzzing", "FuzzTargets"], path: "fuzz/Entry/Token"),
        .executableTarget(name: "FuzzNATS", dependencies: ["CFuzzing", "FuzzTargets"], path: "fuzz/Entry/NATS"),
        // Socketpairs, a hand-driven WebSocket peer and loop helpers, shared by the test targets.
        .target(name: "TestSupport", dependencies: ["EventLoop", "NATS", "WebSocket"], path: "Tests/TestSupport"),
        .testTarget(name: "WebSocketTests", dependencies: ["ByteBuffers", "WebSocket", "HTTP"]),
        .testTarget(name: "HTTPTests", dependencies: ["HTTP"]),
        .testTarget(name: "EventLoopTests", dependencies: ["EventLoop", "ByteBuffers", "TestSupport"]),
        .testTarget(name: "MarketDataTests", dependencies: ["MarketData", "ByteBuffers", "WebSocket"]),
        .testTarget(name: "LoadTestTests", dependencies: ["loadtest", "MarketData"]),
        .testTarget(name: "FuzzRegressionTests", dependencies: ["FuzzTargets"]),
        .testTarget(name: "AuthTests", dependencies: ["Auth", "ByteBuffers", "TestSupport"]),
        .testTarget(name: "TLSTests", dependencies: ["TLS", "EventLoop", "ByteBuffers", "TestSupport"]),
        .testTarget(name: "NATSTests", dependencies: ["NATS", "EventLoop", "TestSupport"]),
        .testTarget(name: "BusTests", dependencies: ["Bus", "MarketData", "NATS", "EventLoop", "ByteBuffers", "TestSupport"]),
        .testTarget(name: "FlagsTests", dependencies: ["Flags"]),
        .testTarget(name: "ConnectionTests", dependencies: ["Connection", "EventLoop", "HTTP", "WebSocket", "ByteBuffers", "TestSupport"]),
        .testTarget(
            name: "GatewayTests",
            dependencies: [
                "Gateway", "Connection", "EventLoop", "HTTP", "WebSocket", "MarketData", "ByteBuffers", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ]
)
