// The `ironlb` executable: every subcommand lives in IronLBCLI.
import ArgumentParser
import IronLBCLI

@main
struct IronLB: AsyncParsableCommand {
    static let configuration = IronLBCommand.configuration
}
