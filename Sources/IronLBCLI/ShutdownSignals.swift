#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SIGTERM and SIGINT start a graceful shutdown (ServiceLifecycle's signal sequence). On Linux
/// libdispatch reads signals through a signalfd, which only sees a signal that every thread
/// blocks; a thread that does not block it lets the kernel apply the default action (the
/// process dies at once: no Lease release, no BGP Cease). A process started with an empty mask
/// (as kubelet starts containers) must therefore block them itself, before any thread exists:
/// every later thread inherits the mask, and a signal that arrives before the handlers are in
/// place waits for them instead of killing the process.
public enum ShutdownSignals {
    public static func blockInEveryThread() {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGINT)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
    }
}
