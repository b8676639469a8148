import Foundation
import TestSupport
import Testing

/// The repository's files under test.
enum Artifacts {
    static let root = BuiltProducts.repositoryRoot

    static func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }

    static func text(_ relative: String) throws -> String {
        try String(contentsOf: url(relative), encoding: .utf8)
    }

    static func manifests() throws -> [KubeObject] {
        try manifestsIn("manifests/ironlb.yaml")
    }

    static func manifestsIn(_ relative: String) throws -> [KubeObject] {
        try YAMLValue.documents(text(relative)).map(KubeObject.init)
    }
}

/// One Kubernetes object of a manifest.
struct KubeObject: Sendable, CustomStringConvertible {
    let value: YAMLValue

    init(_ value: YAMLValue) { self.value = value }

    var apiVersion: String? { value["apiVersion"]?.string }
    var kind: String? { value["kind"]?.string }
    var name: String? { value.at("metadata.name")?.string }
    var namespace: String? { value.at("metadata.namespace")?.string }

    struct Key: Hashable, Comparable, CustomStringConvertible {
        let kind: String, namespace: String, name: String
        static func < (a: Key, b: Key) -> Bool { (a.kind, a.namespace, a.name) < (b.kind, b.namespace, b.name) }
        var description: String { namespace.isEmpty ? "\(kind)/\(name)" : "\(kind)/\(namespace)/\(name)" }
    }

    var key: Key { Key(kind: kind ?? "?", namespace: namespace ?? "", name: name ?? "?") }
    var description: String { key.description }

    /// The pod template's spec of a Deployment or DaemonSet.
    var podSpec: YAMLValue? { value.at("spec.template.spec") }
    var containers: [YAMLValue] { podSpec?["containers"]?.list ?? [] }
}

extension Array where Element == KubeObject {
    func one(_ kind: String, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> KubeObject {
        let matches = filter { $0.kind == kind && $0.name == name }
        return try #require(matches.count == 1 ? matches.first : nil, "expected exactly one \(kind) \(name), found \(matches.count)", sourceLocation: sourceLocation)
    }
}
