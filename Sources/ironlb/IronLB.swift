// The `ironlb` executable: the subcommands live in IronLBCLI, the lab's in IronLBLab.
import ArgumentParser
import IronLBCLI
import IronLBLab

@main
struct IronLB: AsyncParsableCommand {
    static let configuration = IronLBCommand.configuration(lab: LabCommand.self, kubesim: KubeSimCommand.self)

    static func main() async {
        // First, while the process has one thread (see ShutdownSignals).
        ShutdownSignals.blockInEveryThread()
        await main(nil)
    }
}
