// IronLBCLI: the `ironlb` command's subcommands. Thin: each parses its options, validates
// them up front and hands over to the library that does the work.
import ArgumentParser

// The lab's subcommands (`lab`, `kubesim`) live in IronLBLab, which the `ironlb` executable adds.
public enum IronLBCommand {
    /// The `ironlb` command with its subcommands: `lab` first, `kubesim` (when given) after `speaker`.
    public static func configuration(lab: any ParsableCommand.Type, kubesim: (any ParsableCommand.Type)?) -> CommandConfiguration {
        CommandConfiguration(
            commandName: "ironlb",
            abstract: "A bare-metal load balancer for Kubernetes Services of type LoadBalancer.",
            discussion: "Reads MetalLB's ConfigMap format and annotations.",
            version: IronLBVersion.current,
            subcommands: [lab, ConfigCommand.self, ControllerCommand.self, SpeakerCommand.self] + (kubesim.map { [$0] } ?? []) + [BGPCommand.self]
        )
    }
}

public enum IronLBVersion {
    public static let current = "0.1.0"
}

public struct ConfigCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Work with IronLB configuration files.",
        subcommands: [ValidateCommand.self, ConvertCommand.self]
    )

    public init() {}
}
