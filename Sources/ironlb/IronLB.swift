// The `ironlb` executable: the subcommands live in IronLBCLI, the lab's in IronLBLab (with the
// `Lab` trait, on by default; a production build has none: docs/design/lean-binary.md).
import ArgumentParser
import IronLBCLI
#if Lab
import IronLBLab
#endif

@main
struct IronLB: AsyncParsableCommand {
    #if Lab
    static let configuration = IronLBCommand.configuration(lab: LabCommand.self, kubesim: KubeSimCommand.self)
    #else
    static let configuration = IronLBCommand.configuration(lab: LabUnavailableCommand.self, kubesim: nil)
    #endif

    static func main() async {
        // First, while the process has one thread (see ShutdownSignals).
        ShutdownSignals.blockInEveryThread()
        await main(nil)
    }
}
