import NetPrimitives

/// What changed between two interface scans, in the terms the speaker acts on: a new or
/// changed MAC, or an interface coming up, calls for a new announcement burst on it; any
/// change of addresses or of the set of interfaces calls for a new interface selection.
public enum InterfaceChange: Hashable, Sendable {
    case added(InterfaceInfo)
    case removed(name: String)
    case macChanged(name: String, from: MACAddress, to: MACAddress)
    case wentUp(name: String)
    case wentDown(name: String)
    case addressesChanged(name: String, added: [IPPrefix], removed: [IPPrefix])

    /// The changes from `old` to `new`, by interface name (sorted), then in the order above.
    public static func between(_ old: [InterfaceInfo], _ new: [InterfaceInfo]) -> [InterfaceChange] {
        let before = Dictionary(old.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let after = Dictionary(new.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var changes: [InterfaceChange] = []
        for name in Set(before.keys).union(after.keys).sorted() {
            switch (before[name], after[name]) {
            case (nil, let added?):
                changes.append(.added(added))
            case (_?, nil):
                changes.append(.removed(name: name))
            case (let was?, let now?):
                if was.mac != now.mac { changes.append(.macChanged(name: name, from: was.mac, to: now.mac)) }
                if was.isUp != now.isUp { changes.append(now.isUp ? .wentUp(name: name) : .wentDown(name: name)) }
                let oldAddresses = Set(was.addresses), newAddresses = Set(now.addresses)
                if oldAddresses != newAddresses {
                    changes.append(.addressesChanged(
                        name: name,
                        added: newAddresses.subtracting(oldAddresses).sorted(),
                        removed: oldAddresses.subtracting(newAddresses).sorted()
                    ))
                }
            case (nil, nil):
                break
            }
        }
        return changes
    }

    /// True when announcements must be sent again on `name`'s interface (neighbours' caches
    /// may point at a MAC that is gone, or the link was down during a takeover burst).
    public var needsAnnouncement: Bool {
        switch self {
        case .added, .macChanged, .wentUp: return true
        case .removed, .wentDown, .addressesChanged: return false
        }
    }
}

extension InterfaceChange {
    /// The interface the change is about.
    public var interfaceName: String {
        switch self {
        case .added(let info): return info.name
        case .removed(let name), .macChanged(let name, _, _), .wentUp(let name), .wentDown(let name), .addressesChanged(let name, _, _):
            return name
        }
    }
}
