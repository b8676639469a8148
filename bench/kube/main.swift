import Foundation
import KubeSim

// bench-kube: `serve [port]` runs KubeSim in the foreground (manual testing).
let args = CommandLine.arguments
if args.count > 1 && args[1] == "serve" {
    var cfg = KubeSimServer.Configuration()
    if args.count > 2, let p = Int(args[2]) { cfg.port = p }
    let sim = try KubeSimServer(configuration: cfg)
    try await sim.start()
    print(sim.kubeconfigPath)
    while true { try await Task.sleep(for: .seconds(3600)) }
}
