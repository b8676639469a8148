// swift-tools-version:6.0
//
// libFuzzer targets for IronLB's decoders. Built separately from the main package because
// every module must be compiled with -sanitize=fuzzer; see docs/fuzzing.md.
import PackageDescription

let package = Package(
    name: "IronLBFuzz",
    dependencies: [
        .package(name: "IronLB", path: ".."),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "FuzzBGPMessage",
            dependencies: [
                "FuzzSupport",
                .product(name: "BGPWire", package: "IronLB"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "FuzzBGPSession",
            dependencies: [
                "FuzzSupport",
                .product(name: "BGPSession", package: "IronLB"),
            ]
        ),
        .executableTarget(
            name: "FuzzBFDPacket",
            dependencies: [
                "FuzzSupport",
                .product(name: "BFD", package: "IronLB"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "FuzzKubeProtobuf",
            dependencies: [
                "FuzzSupport",
                .product(name: "KubeModel", package: "IronLB"),
                .product(name: "KubeServerModel", package: "IronLB"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "FuzzConfig",
            dependencies: [
                "FuzzSupport",
                .product(name: "LBConfig", package: "IronLB"),
            ]
        ),
        .executableTarget(
            name: "FuzzKubeJSON",
            dependencies: [
                "FuzzSupport",
                .product(name: "KubeModel", package: "IronLB"),
            ]
        ),
        .target(name: "FuzzSupport"),
        .executableTarget(
            name: "FuzzLinkWire",
            dependencies: [
                "FuzzSupport",
                .product(name: "LinkWire", package: "IronLB"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
