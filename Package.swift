// swift-tools-version:6.0
//
// IronLB: a bare-metal load balancer for Kubernetes.
// (kube branch: only the Kubernetes targets; the lead merges these into main's Package.swift.)
import PackageDescription

let package = Package(
    name: "IronLB",
    platforms: [.macOS(.v14)],
    products: [],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        // Pure: Kubernetes object model, JSON value/patch algorithms, times, leader-election state machine.
        .target(name: "KubeModel", dependencies: [.product(name: "NIOCore", package: "swift-nio")]),
        // Edge: the embedded Kubernetes API server used by tests and `ironlb lab`.
        .target(
            name: "KubeSim",
            dependencies: [
                "KubeModel",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Edge: kubeconfig/in-cluster config, REST, informers, events, leader election.
        .target(
            name: "KubeClient",
            dependencies: [
                "KubeModel",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .executableTarget(
            name: "bench-kube",
            dependencies: ["KubeModel", "KubeSim", "KubeClient"],
            path: "bench/kube"
        ),
        .testTarget(name: "KubeModelTests", dependencies: ["KubeModel"], resources: [.copy("Fixtures")]),
        .testTarget(name: "KubeSimTests", dependencies: ["KubeSim", "KubeModel"]),
        .testTarget(name: "KubeClientTests", dependencies: ["KubeClient", "KubeSim", "KubeModel"]),
    ],
    swiftLanguageModes: [.v6]
)
