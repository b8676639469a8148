// The `ironlb` executable: every subcommand lives in IronLBCLI.
import ArgumentParser
import IronLBCLI

@main
struct IronLB: AsyncParsableCommand {
    static let configuration = IronLBCommand.configuration

    static func main() async {
        // First, while the process has one thread (see ShutdownSignals).
        ShutdownSignals.blockInEveryThread()
        await main(nil)
    }
}
