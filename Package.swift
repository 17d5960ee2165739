// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "cw-aio",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "cw-aio", targets: ["cw-aio"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // Sans-IO SIP message model, parser and serializer. No NIO, no Foundation: this is the fuzz target.
        .target(name: "SIPCore"),
        // RFC 3261 §17 / RFC 6026 transaction state machines, Sans-IO with an injected clock.
        .target(name: "SIPTransaction", dependencies: ["SIPCore"]),
        // Subscriber data shapes shared by the HSS cache and the CSCFs.
        .target(name: "IMSModel", dependencies: ["SIPCore"]),
        // The one SQLite database (GRDB): subscribers, numbers, registrations. All SQL lives here.
        .target(name: "IMSStore", dependencies: ["ProvisioningCSV", .product(name: "GRDB", package: "GRDB.swift")]),
        // Identity syntax and the bulk-provisioning CSV parser: pure, no GRDB (the CSVFuzz target).
        .target(name: "ProvisioningCSV"),
        // The HSS cache's Homestead-compatible REST interface (/impi/.../av, /impu/.../reg-data).
        .target(name: "HSSAPI", dependencies: [.product(name: "Hummingbird", package: "hummingbird")]),
        // The HSS cache: subscriber data in memory for the CSCFs.
        .target(name: "HSS", dependencies: ["IMSModel"]),
        // P-CSCF: the UE's edge (Path, flows, trust boundary).
        .target(name: "PCSCF", dependencies: ["SIPCore", "IMSModel"]),
        // I-CSCF: S-CSCF selection.
        .target(name: "ICSCF", dependencies: ["SIPCore", "IMSModel"]),
        // RFC 3261 §16 stateful-proxy logic: validation, loop detection, forwarding, response contexts.
        .target(name: "SIPProxy", dependencies: ["SIPCore"]),
        // Number normalisation, ENUM (enum.json) and BGCF breakout routes (bgcf.json).
        .target(name: "BGCF", dependencies: ["SIPCore"]),
        // Admission control: a latency-adaptive token bucket for initial requests (overload → stateless 503).
        .target(name: "LoadControl"),
        // S-CSCF: registrar rules, bindings, reg-event documents (Sans-IO).
        .target(name: "SCSCF", dependencies: ["SIPCore", "IMSModel", "DigestAuth"]),
        // SIP digest authentication (RFC 2617/7616/8760): headers, maths, nonces.
        .target(name: "DigestAuth", dependencies: ["SIPCore", .product(name: "Crypto", package: "swift-crypto")]),
        // Configuration file, --set overrides and local address detection.
        .target(name: "AutoConfig"),
        // SwiftNIO UDP/TCP/TLS transports that turn bytes into SIP messages and back.
        .target(name: "SIPTransport", dependencies: [
            "SIPCore",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "SwiftASN1", package: "swift-asn1"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The IMS roles (for now: the SIP element that answers OPTIONS and refuses what it cannot do).
        .target(name: "IMSCore", dependencies: [
            "SIPCore", "SIPTransaction", "SIPTransport", "AutoConfig", "SCSCF", "PCSCF", "ICSCF", "IMSModel", "HSS", "IMSStore", "DigestAuth", "HSSAPI", "SIPProxy", "BGCF", "LoadControl",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "cw-aio", dependencies: [
            "IMSCore", "AutoConfig", "SIPTransport", "IMSStore", "DigestAuth",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // libFuzzer harness for the SIP parser (see `make fuzz`).
        .executableTarget(name: "SIPFuzz", dependencies: ["SIPCore"]),
        .executableTarget(name: "DigestFuzz", dependencies: ["DigestAuth"]),
        .executableTarget(name: "ConfigFuzz", dependencies: ["AutoConfig"]),
        .executableTarget(name: "RoutingFuzz", dependencies: ["BGCF", "SIPCore"]),
        .executableTarget(name: "CSVFuzz", dependencies: ["ProvisioningCSV"]),
        .executableTarget(name: "ProxyFuzz", dependencies: ["SIPProxy", "PCSCF", "SCSCF", "SIPCore"]),
        .testTarget(name: "SIPCoreTests", dependencies: ["SIPCore"], exclude: ["rfc4475"]),
        .testTarget(name: "SIPTransactionTests", dependencies: ["SIPTransaction", "SIPCore"]),
        .testTarget(name: "AutoConfigTests", dependencies: ["AutoConfig"]),
        .testTarget(name: "SCSCFTests", dependencies: ["SCSCF", "SIPCore", "IMSModel", "PCSCF"]),
        .testTarget(name: "DigestAuthTests", dependencies: ["DigestAuth"]),
        .testTarget(name: "IMSStoreTests", dependencies: ["IMSStore", "ProvisioningCSV"]),
        .testTarget(name: "SIPProxyTests", dependencies: ["SIPProxy", "SIPCore"]),
        .testTarget(name: "BGCFTests", dependencies: ["BGCF", "SIPCore"]),
        .testTarget(name: "LoadControlTests", dependencies: ["LoadControl"]),
        .testTarget(name: "SIPTransportTests", dependencies: ["SIPTransport", "SIPCore", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                                                              .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "HSSTests", dependencies: ["HSS", "IMSModel"]),
        .testTarget(name: "IMSCoreTests", dependencies: ["IMSCore"]),
        .testTarget(name: "HSSAPITests", dependencies: ["HSSAPI", .product(name: "HummingbirdTesting", package: "hummingbird")]),
    ]
)

// Release builds optimise across our module boundaries: the SIP path runs through a dozen small
// modules, and without this the generic transaction layer and the parser's value types are called
// unspecialised (runtime metadata lookups and witness tables on every message).
// They also drop the run-time exclusivity checks on class properties and globals (~130 per REGISTER
// pair, ~4 % of its instructions in callgrind). The compile-time checks stay, and the debug build,
// which `swift test` and the interop suite (real peers) run, keeps the run-time ones.
for target in package.targets where target.type != .test {
    var settings = target.swiftSettings ?? []
    settings.append(.unsafeFlags(["-cross-module-optimization", "-enforce-exclusivity=unchecked"],
                                 .when(configuration: .release)))
    target.swiftSettings = settings
}
