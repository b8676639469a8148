import LinkWire
import NetPrimitives

/// One layer-2 VIP as the speaker sees it: the Services using it and its pool's settings.
public struct LayerTwoVIP: Hashable, Sendable {
    public var address: IPAddress
    /// Every Service holding this address (more than one when the IP is shared).
    public var services: [ServiceRequirement]
    /// The pool's `interfaces` list; empty for the default selection.
    public var interfaces: [String]

    public init(address: IPAddress, services: [ServiceRequirement], interfaces: [String] = []) {
        self.address = address
        self.services = services
        self.interfaces = interfaces
    }
}

/// What this node answers: the owner election and the interface selection put together,
/// in the form `Responder.decide` takes.
public enum AnswerPlan {
    /// For each VIP this node owns, the interfaces it answers on. A VIP with no usable
    /// interface is left out (there is nowhere to answer it).
    public static func owned(
        by node: String,
        vips: [LayerTwoVIP],
        nodes: [NodeCandidacy],
        interfaces: [InterfaceInfo],
        excluding patterns: [String] = AnnounceInterfaces.defaultExcludedPatterns
    ) -> [IPAddress: Set<String>] {
        var plan: [IPAddress: Set<String>] = [:]
        for vip in vips where OwnerElection.owner(of: vip.address, services: vip.services, nodes: nodes) == node {
            let names = AnnounceInterfaces.select(for: vip.address, among: interfaces, configured: vip.interfaces, excluding: patterns)
            if !names.isEmpty { plan[vip.address] = names }
        }
        return plan
    }

    /// The announcement frames for `address` on each interface it is answered on, with that
    /// interface's MAC (gratuitous ARP in both forms, or one unsolicited NA).
    public static func announcements(for address: IPAddress, plan: [IPAddress: Set<String>], interfaces: [InterfaceInfo]) -> [(interface: String, frame: LinkFrame)] {
        guard let names = plan[address] else { return [] }
        return interfaces.filter { names.contains($0.name) }.sorted { $0.name < $1.name }.flatMap { info in
            Announcement.frames(for: address, mac: info.mac).map { (info.name, $0) }
        }
    }
}
