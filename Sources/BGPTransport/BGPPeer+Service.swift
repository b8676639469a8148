import BGPSession
import ServiceLifecycle

extension BGPPeer: Service {
    /// Runs the peering until graceful shutdown (or cancellation), then ends it as
    /// `shutdownMode` says: withdraw every route and Cease with `shutdownCommunication`, or
    /// keep the routes at the peer for a graceful restart.
    public func run() async throws {
        start()
        try? await gracefulShutdown()
        try await stop(communication: configuration.shutdownCommunication, mode: configuration.shutdownMode).get()
    }
}
