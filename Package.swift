// swift-tools-version:6.1
//
// IronLB: a bare-metal load balancer for Kubernetes.
// Targets: see docs/architecture.md (the map of targets and decisions). Pure targets import only the
// standard library, each other and NIOCore; edge targets do the I/O.
import PackageDescription

let package = Package(
    name: "IronLB",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ironlb", targets: ["ironlb"]),
        // For the fuzz package in fuzz/ (built with -sanitize=fuzzer, see docs/fuzzing.md).
        .library(name: "BGPWire", targets: ["BGPWire"]),
        .library(name: "BGPSession", targets: ["BGPSession"]),
        .library(name: "LinkWire", targets: ["LinkWire"]),
        .library(name: "KubeModel", targets: ["KubeModel"]),
        .library(name: "KubeServerModel", targets: ["KubeServerModel"]),
        .library(name: "LBConfig", targets: ["LBConfig"]),
        .library(name: "BFD", targets: ["BFD"]),
    ],
    // `Lab` (on by default): `ironlb lab` and `ironlb kubesim`. The production build turns it off
    // (`scripts/build-release`: --disable-default-traits) and links no KubeSim (docs/design/lean-binary.md).
    traits: [
        .trait(name: "Lab", description: "ironlb lab and ironlb kubesim: KubeSim, the lab's network and views, in the ironlb binary"),
        .default(enabledTraits: ["Lab"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
        // Exec credential plugins; its default trait SubprocessFoundation (Foundation, ICU) is off.
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2", traits: []),
    ],
    targets: [
        // Pure targets.
        .target(name: "NetPrimitives"),
        // Debian's libyaml (libyaml-dev), linked statically by YAML (no pkgConfig: its `-lyaml` would
        // link the shared library); YAML is its parser and emitter as a node tree.
        .systemLibrary(name: "CYAML", providers: [.apt(["libyaml-dev"])]),
        .target(
            name: "YAML",
            dependencies: ["CYAML"],
            linkerSettings: [.linkedLibrary(":libyaml.a", .when(platforms: [.linux])), .linkedLibrary("yaml", .when(platforms: [.macOS]))]
        ),
        .target(
            name: "LBConfig",
            dependencies: ["NetPrimitives", "KubeModel", "BGPWire", "YAML"]
        ),
        // The allocator: which address a Service gets.
        .target(
            name: "LBCore",
            dependencies: ["NetPrimitives", "LBConfig", .product(name: "HeapModule", package: "swift-collections")]
        ),
        // The controller's decisions: Service changes in, status patches and Events out.
        .target(name: "ControllerCore", dependencies: ["LBCore", "LBConfig", "NetPrimitives", "Announcements"]),
        // What speakers report and how the controller reads it: `ironlb.io/announced-by`, the report Leases.
        .target(name: "Announcements", dependencies: ["LBCore", "LBConfig"]),

        // Pure: Kubernetes object model, JSON value/patch algorithms, times, leader-election state machine.
        .target(name: "KubeModel", dependencies: [.product(name: "NIOCore", package: "swift-nio")]),
        // Pure: the API server's machinery only KubeSim needs: JSON/merge/strategic patches, protobuf bodies.
        .target(name: "KubeServerModel", dependencies: ["KubeModel", .product(name: "NIOCore", package: "swift-nio")]),
        // Pure: client-go's leader-election rules over a Lease, as a state machine.
        .target(name: "LeaderElection", dependencies: ["KubeModel"]),

        // Edges.
        // The embedded Kubernetes API server used by tests and `ironlb lab`.
        .target(
            name: "KubeSim",
            dependencies: [
                "KubeModel", "KubeServerModel",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // kubeconfig/in-cluster config, REST, informers, events, leader election.
        .target(
            name: "KubeClient",
            dependencies: [
                "KubeModel", "LeaderElection",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                "YAML",
                .product(name: "OrderedCollections", package: "swift-collections"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Subprocess", package: "swift-subprocess"),
            ]
        ),
        .target(
            name: "Observability",
            dependencies: [
                "KubeModel",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        .target(
            name: "Controller",
            dependencies: [
                "LBCore", "ControllerCore", "Announcements", "LBConfig", "NetPrimitives", "KubeClient", "KubeModel", "LeaderElection", "Observability",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "BGPWire",
            dependencies: ["NetPrimitives", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .target(
            name: "BGPSession",
            dependencies: ["BGPWire", "NetPrimitives", .product(name: "NIOCore", package: "swift-nio")]
        ),
        // Layer 2: ARP/NDP codecs and responder decision; Lease-based ownership (HRW, fencing).
        .target(
            name: "LinkWire",
            dependencies: ["NetPrimitives", .product(name: "NIOCore", package: "swift-nio")]
        ),
                .target(name: "L2Ownership", dependencies: ["NetPrimitives", .product(name: "Crypto", package: "swift-crypto")]),
        // BFD (RFC 5880): control packet codec and asynchronous-mode session state machine.
        .target(name: "BFD", dependencies: [.product(name: "NIOCore", package: "swift-nio")]),
        // BFD over UDP (RFC 5881, RFC 5883) on an event loop of its own.
        .target(
            name: "BFDTransport",
            dependencies: [
                "BFD", "NetPrimitives",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // What one node announces, from the cluster state its speaker watches.
        .target(name: "SpeakerCore", dependencies: ["L2Ownership", "LBCore", "LBConfig", "KubeModel", "BGPWire", "NetPrimitives"]),
        // Layer 2 edge: packet sockets (C shim for sockaddr_ll, memberships, BPF), discovery.
        .target(name: "CPacketShim"),
        // glibc's allocator settings (mallopt), which the Glibc module does not export.
        .target(name: "CMemoryShim"),
        .target(name: "PacketIO", dependencies: ["CPacketShim", "LinkWire", "NetPrimitives"]),
        .executableTarget(
            name: "l2-responder",
            dependencies: ["PacketIO", "LinkWire", "NetPrimitives", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .target(
            name: "BGPTransport",
            dependencies: [
                "BGPSession", "BGPWire", "NetPrimitives",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        .target(
            name: "Speaker",
            dependencies: [
                "SpeakerCore", "L2Ownership", "LBCore", "LBConfig", "NetPrimitives", "BGPTransport", "BGPSession", "BGPWire", "BFD", "BFDTransport",
                "KubeClient", "KubeModel", "PacketIO", "LinkWire", "Announcements", "Observability",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        // Command line.
        .target(
            name: "IronLBCLI",
            dependencies: [
                "NetPrimitives", "CMemoryShim", "LBConfig", "LBCore", "ControllerCore", "Announcements", "LeaderElection", "Controller", "Speaker", "SpeakerCore", "L2Ownership", "BGPTransport", "BGPSession", "BGPWire", "KubeClient", "KubeModel", "Observability", "YAML",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The lab: `ironlb lab` (KubeSim, a controller, speakers, a route collector) and `ironlb kubesim`.
        .target(
            name: "IronLBLab",
            dependencies: [
                "NetPrimitives", "LBConfig", "LBCore", "ControllerCore", "Announcements", "Controller", "Speaker", "SpeakerCore", "BGPTransport",
                "KubeClient", "KubeModel", "KubeSim", "Observability", "NetworkLab", "YAML",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "ironlb",
            dependencies: [
                "IronLBCLI", .target(name: "IronLBLab", condition: .when(traits: ["Lab"])),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // Benchmarks (run by bench/run, never by the test suite).
        .executableTarget(
            name: "bench-allocator",
            dependencies: ["NetPrimitives", "LBConfig", "LBCore", "TestSupport"],
            path: "bench/allocator"
        ),

        .executableTarget(
            name: "bench-kube",
            dependencies: ["KubeModel", "KubeSim", "KubeClient"],
            path: "bench/kube"
        ),
        .executableTarget(
            name: "bench-bgp",
            dependencies: [
                "BGPTransport", "BGPSession", "BGPWire", "NetPrimitives", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "bench/bgp"
        ),

        .executableTarget(name: "bench-speaker", dependencies: ["TestSupport"], path: "bench/speaker"),
        .executableTarget(name: "bench-scale", dependencies: ["TestSupport"], path: "bench/scale", exclude: ["helper.py"]),
        // What the speaker's libraries cost alone (bench-scale's floor column); built like the
        // production binary: scripts/build-release bench-floor.
        .executableTarget(
            name: "bench-floor",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "bench/floor"
        ),
        // BFD detection time: IronLB next to FRR's bfdd in the same run (issue 17).
        .executableTarget(
            name: "bench-bfd",
            dependencies: ["TestSupport"],
            path: "bench/bfd"
        ),
        // The speaker's pure core: cost per Service change at 1,000 and 10,000 Services.
        .executableTarget(
            name: "bench-speaker-core",
            dependencies: ["SpeakerCore", "L2Ownership", "LBCore", "NetPrimitives", "TestSupport", "CMemoryShim"],
            path: "bench/speaker-core"
        ),
        // Layer 2 failover (SIGTERM, SIGKILL) as the client sees it, with a kernel reference.
        .executableTarget(name: "bench-l2-failover", dependencies: ["TestSupport"], path: "bench/l2-failover"),

        // 10,000 Services in a burst against KubeSim: time to status, the controller's peak RSS.
        .executableTarget(
            name: "bench-controller",
            dependencies: ["KubeSim", "KubeModel"],
            path: "bench/controller"
        ),

        // Network namespaces, bridges and short commands: the lab's network and the tests'.
        .target(name: "NetworkLab"),
        // Test support: prerequisite gating, network namespaces, processes.
        .target(name: "TestSupport", dependencies: ["NetworkLab", "YAML"]),

        .testTarget(name: "NetPrimitivesTests", dependencies: ["NetPrimitives"]),
        .testTarget(name: "YAMLTests", dependencies: ["YAML"]),
        .testTarget(name: "LBConfigTests", dependencies: ["LBConfig", "KubeModel", "BGPWire", "YAML"]),
        .testTarget(name: "LBCoreTests", dependencies: ["LBCore", "LBConfig", "NetPrimitives", "TestSupport"]),
        .testTarget(name: "ControllerCoreTests", dependencies: ["ControllerCore", "LBCore", "LBConfig", "NetPrimitives", "TestSupport"]),
        .testTarget(name: "AnnouncementsTests", dependencies: ["Announcements", "LBCore", "TestSupport"]),
        .testTarget(
            name: "BGPWireTests",
            dependencies: [
                "BGPWire", "NetPrimitives",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "BGPSessionTests",
            dependencies: ["BGPSession", "BGPWire", "NetPrimitives", "TestSupport", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(
            name: "BGPTransportTests",
            dependencies: [
                "BGPTransport", "BGPSession", "BGPWire", "NetPrimitives", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "NetworkLabTests", dependencies: ["NetworkLab"]),
        .testTarget(name: "IronLBCLITests", dependencies: ["IronLBCLI", "IronLBLab", "TestSupport", "BGPSession", "BGPWire", "NetPrimitives"]),
        .testTarget(
            name: "ControllerTests",
            dependencies: [
                "Controller", "ControllerCore", "Announcements", "LBCore", "NetPrimitives", "TestSupport",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The controller's acceptance tests: KubeSim over HTTPS, the controller in-process or as
        // the real `ironlb controller` process (issue 4).
        .testTarget(
            name: "ControllerIntegrationTests",
            dependencies: [
                "Controller", "ControllerCore", "LBCore", "LBConfig", "KubeSim", "KubeClient", "KubeModel", "TestSupport",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "ObservabilityTests",
            dependencies: [
                "Observability", "TestSupport",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "LinkWireTests",
            dependencies: ["LinkWire", "NetPrimitives", "TestSupport", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(name: "BFDTests", dependencies: ["BFD", "TestSupport", .product(name: "NIOCore", package: "swift-nio")]),
        // BFD against FRR's bfdd (and BIRD) in network namespaces, coupled to BGP sessions.
        .testTarget(
            name: "BFDInteropTests",
            dependencies: [
                "BFD", "BFDTransport", "BGPTransport", "BGPSession", "BGPWire", "NetPrimitives", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "L2OwnershipTests", dependencies: ["L2Ownership", "LinkWire", "NetPrimitives", "TestSupport"]),
        .testTarget(name: "SpeakerInteropTests", dependencies: ["TestSupport", "LBCore", "Announcements", "L2Ownership", "NetPrimitives"]),
        // The speaker daemon's edges with a scripted API and a recording layer 2 data plane.
        .testTarget(
            name: "SpeakerTests",
            dependencies: [
                "Speaker", "SpeakerCore", "L2Ownership", "LBCore", "ControllerCore", "Announcements", "NetPrimitives", "TestSupport",
                "KubeSim", "KubeClient", "KubeModel",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "SpeakerCoreTests", dependencies: ["SpeakerCore", "L2Ownership", "LBCore", "LBConfig", "KubeModel", "BGPWire", "NetPrimitives", "TestSupport"]),
        .testTarget(name: "KubeModelTests", dependencies: ["KubeModel", "KubeServerModel"], resources: [.copy("Fixtures")]),
        .testTarget(name: "KubeServerModelTests", dependencies: ["KubeServerModel", "KubeModel", .product(name: "NIOCore", package: "swift-nio")]),
        .testTarget(name: "LeaderElectionTests", dependencies: ["LeaderElection", "KubeModel"]),
        .testTarget(name: "KubeSimTests", dependencies: ["KubeSim", "KubeModel", "KubeServerModel", "TestSupport"]),
        .testTarget(name: "KubeClientTests", dependencies: ["KubeClient", "KubeSim", "KubeModel", "LeaderElection", "TestSupport"]),
        // Install artifacts and operator documentation (manifests/, charts/, Dockerfile, docs/).
        .testTarget(
            name: "ManifestTests",
            dependencies: ["LBConfig", "KubeModel", "TestSupport", "YAML"]
        ),
        .testTarget(
            name: "PacketIOTests",
            dependencies: ["PacketIO", "LinkWire", "NetPrimitives", "TestSupport"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
