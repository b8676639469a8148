#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeModel
import NIOConcurrencyHelpers

/// Joins the ConfigMap's `config` value and the metallb.io objects into the one text the
/// configuration is parsed from, and hands it on once both are known and on every change.
/// Without metallb.io objects to read, the ConfigMap value passes straight through.
public final class ConfigSourceFeed: Sendable {
    private struct State {
        var value: String??
        var objects: [JSONValue]?
        /// The Secrets the objects name (JSON), when this reader resolves them.
        var secrets: [String]?
    }

    private let state = NIOLockedValueBox(State())
    private let readsObjects: Bool
    private let assemble: @Sendable (String?, [String], [String]?) -> String?
    private let deliver: @Sendable (String?) -> Void

    /// `assemble(value, objects, secrets)`: `ConfigSources.sourceText` for the config namespace and name.
    public init(readsObjects: Bool, assemble: @escaping @Sendable (String?, [String], [String]?) -> String?, deliver: @escaping @Sendable (String?) -> Void) {
        self.readsObjects = readsObjects
        self.assemble = assemble
        self.deliver = deliver
    }

    public func configValue(_ value: String?) {
        update { $0.value = .some(value) }
    }

    /// The objects now, and (for a reader that resolves them) the Secrets they name.
    public func objects(_ objects: [JSONValue], secrets: [String]? = nil) {
        update {
            $0.objects = objects
            $0.secrets = secrets
        }
    }

    private func update(_ change: (inout State) -> Void) {
        let text: String?? = state.withLockedValue { state in
            change(&state)
            guard case .some(let value) = state.value else { return nil }
            if readsObjects && state.objects == nil { return nil }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let texts = (state.objects ?? []).compactMap { try? encoder.encode($0) }.map { String(decoding: $0, as: UTF8.self) }
            return .some(assemble(value, texts, state.secrets))
        }
        if case .some(let text) = text { deliver(text) }
    }
}
