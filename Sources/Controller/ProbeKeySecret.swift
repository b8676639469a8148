import KubeClient
import KubeModel
import Logging
import ServiceLifecycle

/// The speakers' probe key (the layer 2 failure detector's shared secret): the controller creates
/// the Secret when it is missing, as MetalLB's controller does for its memberlist Secret
/// (`--ml-secret-name`). It never reads, replaces or updates an existing one: creating is the
/// only write, and an existing Secret answers it with AlreadyExists, so the controller needs only
/// `create` on Secrets in its namespace.
public enum ProbeKeySecret {
    /// The data key the speakers read (`/etc/ironlb/memberlist/secretkey`), as MetalLB's.
    public static let dataKey = "secretkey"
    /// Random bytes in a new key (MetalLB uses 16).
    public static let keyBytes = 32

    public enum Outcome: Hashable, Sendable {
        case created
        case alreadyExists
    }

    /// A new key: `keyBytes` random bytes from `generator`, as base64 text (the speaker uses the
    /// file's bytes, so the text itself is the key, as with `openssl rand -base64 32`).
    public static func newKey<Generator: RandomNumberGenerator>(using generator: inout Generator) -> [UInt8] {
        let random = (0..<keyBytes).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return Array(Base64.encode(random).utf8)
    }

    /// The Secret to create: `name` in `namespace`, with a fresh key.
    public static func secret(name: String, namespace: String, key: [UInt8]) -> V1Secret {
        V1Secret(
            metadata: ObjectMeta(name: name, namespace: namespace, labels: ["app.kubernetes.io/name": "ironlb", "app.kubernetes.io/component": "probe-key"]),
            data: [dataKey: key], type: "Opaque"
        )
    }

    /// Creates the Secret with a fresh key unless one of that name exists (left as it is).
    public static func ensure(client: KubeClient, namespace: String, name: String) async throws -> Outcome {
        var generator = SystemRandomNumberGenerator()
        do {
            _ = try await client.create(secret(name: name, namespace: namespace, key: newKey(using: &generator)), namespace: namespace)
            return .created
        } catch let error as KubeAPIError where error.isAlreadyExists {
            return .alreadyExists
        }
    }
}

/// Runs `ProbeKeySecret.ensure` once at start-up, retrying failures (no permission yet, API
/// down) with the controller's backoff until the Secret exists; then it is done. Allocation does
/// not wait for it. Add it to the ServiceGroup with `successTerminationBehavior: .ignore`.
public struct ProbeKeySecretService: Service {
    let client: KubeClient
    let namespace: String
    let name: String
    let retryDelay: @Sendable (Int) -> Duration
    let logger: Logger

    public init(client: KubeClient, namespace: String, name: String, retryDelay: @escaping @Sendable (Int) -> Duration, logger: Logger) {
        self.client = client
        self.namespace = namespace
        self.name = name
        self.retryDelay = retryDelay
        self.logger = logger
    }

    public func run() async throws {
        var attempt = 0
        let metadata: Logger.Metadata = ["lb.secret": "\(namespace)/\(name)"]
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                switch try await ProbeKeySecret.ensure(client: client, namespace: namespace, name: name) {
                case .created: logger.info("created the speakers' probe key Secret", metadata: metadata)
                case .alreadyExists: logger.info("the speakers' probe key Secret exists; left as it is", metadata: metadata)
                }
                return
            } catch {
                attempt += 1
                logger.error("cannot create the speakers' probe key Secret; retrying (the controller needs create on secrets in its namespace)",
                             metadata: metadata.merging(["lb.error": "\(error)"]) { $1 })
                try? await Task.sleep(for: retryDelay(attempt))
            }
        }
    }
}
