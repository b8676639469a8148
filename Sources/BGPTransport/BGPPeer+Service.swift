import ServiceLifecycle

extension BGPPeer: Service {
    /// Runs the peering until graceful shutdown (or cancellation), then withdraws every
    /// route and closes with a Cease carrying `shutdownCommunication`.
    public func run() async throws {
        start()
        try? await gracefulShutdown()
        try await stop(communication: shutdownCommunication).get()
    }
}
