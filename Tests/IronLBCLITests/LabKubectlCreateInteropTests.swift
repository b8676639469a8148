import Foundation
import Testing
import TestSupport

/// The README's promise: with `ironlb lab` running, `kubectl --kubeconfig <path> create service
/// loadbalancer … --tcp=80` (a protobuf body since kubectl 1.32) creates a Service that gets an
/// IP from the lab pool, announced by every node. Serial phase: it blocks a thread on the lab.
@Suite(.serialized) struct LabKubectlCreateInteropTests {
    static let demoDeployment = """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: demo
        spec:
          replicas: 2
          selector:
            matchLabels: {app: demo}
          template:
            metadata:
              labels: {app: demo}
            spec:
              containers:
              - name: demo
                image: registry.k8s.io/e2e-test-images/agnhost:2.53
                ports:
                - containerPort: 80
        """

    @Test func kubectlCreateServiceGetsAnIPInTheLab() throws {
        guard Prerequisites.require(.command("kubectl")) else { return }
        guard let ironlb = BuiltProducts.require("ironlb") else { return }
        let directory = NSTemporaryDirectory() + "ironlb-lab-kubectl-\(getpid())-\(UUID().uuidString.prefix(6))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let lab = try ManagedProcess([ironlb, "lab", "--directory", directory])
        defer { lab.stop(signal: SIGKILL, timeout: 5) }
        let up = pollBlocking(timeout: 90, interval: 0.25) {
            lab.stdout.components(separatedBy: "announced by: lab-node-1, lab-node-2, lab-node-3").count - 1 >= 2
        }
        #expect(up, "the lab never showed both example Services announced:\n\(lab.stdout)")
        guard up else { return }

        let kubeconfig = directory + "/kubesim/kubeconfig"
        let home = directory + "/home"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        let create = try Shell.run(["env", "HOME=\(home)", "kubectl", "--kubeconfig", kubeconfig, "create", "service", "loadbalancer", "demo", "--tcp=80"], timeout: 60)
        #expect(create.status == 0 && create.stdout.contains("service/demo created"), "\(create.stdout)\n\(create.stderr)")
        // Its pods (selector app=demo): IronLB announces only Services with a ready endpoint.
        let deployment = directory + "/demo-deployment.yaml"
        try Self.demoDeployment.write(toFile: deployment, atomically: true, encoding: .utf8)
        let apply = try Shell.run(["env", "HOME=\(home)", "kubectl", "--kubeconfig", kubeconfig, "apply", "-f", deployment], timeout: 60)
        #expect(apply.status == 0 && apply.stdout.contains("deployment.apps/demo created"), "\(apply.stdout)\n\(apply.stderr)")

        // The live view shows the new Service with a pool address, announced by all three nodes.
        func demoLine() -> String {
            lab.stdout.split(separator: "\n").last { $0.contains("default/demo") }.map(String.init) ?? ""
        }
        let announced = pollBlocking(timeout: 60, interval: 0.25) {
            let line = demoLine()
            return line.contains("198.51.100.") && line.contains("announced by: lab-node-1, lab-node-2, lab-node-3")
        }
        #expect(announced, "default/demo: \(demoLine())\n\(lab.stdout.suffix(2000))")
        let ip = try Shell.run(["env", "HOME=\(home)", "kubectl", "--kubeconfig", kubeconfig, "get", "svc", "demo",
                                "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}"], timeout: 60)
        #expect(ip.stdout.hasPrefix("198.51.100."), "\(ip.stdout)\n\(ip.stderr)")
        lab.signal(SIGINT)
        #expect(lab.waitForExit(timeout: 60) == 0)
    }
}
