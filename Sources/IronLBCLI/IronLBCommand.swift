// IronLBCLI: the `ironlb` command's subcommands. Thin: each parses its options, validates
// them up front and hands over to the library that does the work.
import ArgumentParser

public struct IronLBCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "ironlb",
        abstract: "A bare-metal load balancer for Kubernetes Services of type LoadBalancer.",
        discussion: "Reads MetalLB's ConfigMap format and annotations.",
        version: IronLBVersion.current,
        subcommands: [LabCommand.self, ConfigCommand.self, ControllerCommand.self, SpeakerCommand.self, KubeSimCommand.self, BGPCommand.self]
    )

    public init() {}
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
