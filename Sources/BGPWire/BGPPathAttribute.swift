import NetPrimitives

/// A path attribute (RFC 4271 §4.3, §5). The flags are kept as received so that decoding
/// and re-encoding give back the same bytes (FRR, for one, sets Extended Length on short
/// AS_PATH and MP_REACH_NLRI attributes).
public struct BGPPathAttribute: Hashable, Sendable {
    /// Attribute flags, RFC 4271 §4.3.
    public struct Flags: OptionSet, Hashable, Sendable {
        public var rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let optional = Flags(rawValue: 0x80)
        public static let transitive = Flags(rawValue: 0x40)
        public static let partial = Flags(rawValue: 0x20)
        public static let extendedLength = Flags(rawValue: 0x10)
    }

    /// Attribute type codes, IANA "BGP Path Attributes".
    public enum TypeCode {
        public static let origin: UInt8 = 1
        public static let asPath: UInt8 = 2
        public static let nextHop: UInt8 = 3
        public static let multiExitDisc: UInt8 = 4
        public static let localPref: UInt8 = 5
        public static let atomicAggregate: UInt8 = 6
        public static let aggregator: UInt8 = 7
        public static let communities: UInt8 = 8          // RFC 1997
        public static let mpReachNLRI: UInt8 = 14         // RFC 4760
        public static let mpUnreachNLRI: UInt8 = 15       // RFC 4760
        public static let as4Path: UInt8 = 17             // RFC 6793
        public static let as4Aggregator: UInt8 = 18       // RFC 6793
        public static let largeCommunities: UInt8 = 32    // RFC 8092
    }

    public enum Value: Hashable, Sendable {
        case origin(BGPOrigin)
        case asPath(BGPASPath)
        case nextHop(IPv4Address)
        case multiExitDisc(UInt32)
        case localPref(UInt32)
        case atomicAggregate
        case aggregator(BGPAggregator)
        case communities([BGPCommunity])
        case mpReach(BGPMPReach)
        case mpUnreach(BGPMPUnreach)
        case as4Path(BGPASPath)
        case as4Aggregator(BGPAggregator)
        case largeCommunities([BGPLargeCommunity])
        /// An optional attribute IronLB does not interpret (extended communities, ...).
        case unknown(code: UInt8, value: [UInt8])
    }

    public var flags: Flags
    public var value: Value

    public init(flags: Flags, value: Value) {
        self.flags = flags
        self.value = value
    }

    /// An attribute with the flags its specification gives it.
    public init(_ value: Value) {
        self.init(flags: Self.defaultFlags(for: value), value: value)
    }

    public var typeCode: UInt8 {
        switch value {
        case .origin: return TypeCode.origin
        case .asPath: return TypeCode.asPath
        case .nextHop: return TypeCode.nextHop
        case .multiExitDisc: return TypeCode.multiExitDisc
        case .localPref: return TypeCode.localPref
        case .atomicAggregate: return TypeCode.atomicAggregate
        case .aggregator: return TypeCode.aggregator
        case .communities: return TypeCode.communities
        case .mpReach: return TypeCode.mpReachNLRI
        case .mpUnreach: return TypeCode.mpUnreachNLRI
        case .as4Path: return TypeCode.as4Path
        case .as4Aggregator: return TypeCode.as4Aggregator
        case .largeCommunities: return TypeCode.largeCommunities
        case .unknown(let code, _): return code
        }
    }

    static func defaultFlags(for value: Value) -> Flags {
        switch value {
        case .origin, .asPath, .nextHop, .localPref, .atomicAggregate:
            return .transitive
        case .multiExitDisc, .mpReach, .mpUnreach:
            return .optional
        case .aggregator, .communities, .as4Path, .as4Aggregator, .largeCommunities:
            return [.optional, .transitive]
        case .unknown:
            return [.optional, .transitive]
        }
    }

    /// The Optional and Transitive bits a recognised attribute must carry, or nil for an
    /// unrecognised one (RFC 4271 §6.3, RFC 7606 §3 c).
    static func requiredCategory(code: UInt8) -> Flags? {
        switch code {
        case TypeCode.origin, TypeCode.asPath, TypeCode.nextHop, TypeCode.localPref, TypeCode.atomicAggregate:
            return .transitive
        case TypeCode.multiExitDisc, TypeCode.mpReachNLRI, TypeCode.mpUnreachNLRI:
            return .optional
        case TypeCode.aggregator, TypeCode.communities, TypeCode.as4Path, TypeCode.as4Aggregator, TypeCode.largeCommunities:
            return [.optional, .transitive]
        default:
            return nil
        }
    }
}

/// ORIGIN values, RFC 4271 §5.1.1.
public enum BGPOrigin: UInt8, Hashable, Sendable {
    case igp = 0
    case egp = 1
    case incomplete = 2
}

/// AS_PATH and AS4_PATH, RFC 4271 §4.3 and RFC 5065 §3 (confederation segments).
public struct BGPASPath: Hashable, Sendable, CustomStringConvertible {
    public enum SegmentType: UInt8, Hashable, Sendable {
        case set = 1
        case sequence = 2
        case confedSequence = 3
        case confedSet = 4
    }

    public struct Segment: Hashable, Sendable {
        public var type: SegmentType
        public var asns: [UInt32]
        public init(type: SegmentType, asns: [UInt32]) {
            self.type = type
            self.asns = asns
        }
    }

    public var segments: [Segment]

    public init(segments: [Segment] = []) { self.segments = segments }

    /// One AS_SEQUENCE (empty for an empty path, as iBGP sends).
    public static func sequence(_ asns: [UInt32]) -> BGPASPath {
        asns.isEmpty ? BGPASPath() : BGPASPath(segments: [Segment(type: .sequence, asns: asns)])
    }

    /// The path length used in route selection (RFC 4271 §9.1.2.2): a set counts 1,
    /// confederation segments count 0.
    public var length: Int {
        segments.reduce(0) { total, segment in
            switch segment.type {
            case .sequence: return total + segment.asns.count
            case .set: return total + 1
            case .confedSequence, .confedSet: return total
            }
        }
    }

    /// Every AS number in order (for display and tests).
    public var asns: [UInt32] { segments.flatMap(\.asns) }

    public var description: String {
        segments.map { segment in
            let list = segment.asns.map(String.init).joined(separator: " ")
            switch segment.type {
            case .sequence: return list
            case .set: return "{\(list)}"
            case .confedSequence: return "(\(list))"
            case .confedSet: return "[\(list)]"
            }
        }.joined(separator: " ")
    }

    /// The path a 2-octet-AS session meant, rebuilt from AS_PATH and AS4_PATH
    /// (RFC 6793 §4.2.3): AS4_PATH is ignored when it is longer than AS_PATH; otherwise the
    /// leading AS_PATH entries it does not cover are prepended to it.
    public static func merging(asPath: BGPASPath, as4Path: BGPASPath?) -> BGPASPath {
        guard let as4Path else { return asPath }
        let surplus = asPath.length - as4Path.length
        guard surplus >= 0 else { return asPath }
        var leading: [Segment] = []
        var remaining = surplus
        for segment in asPath.segments where remaining > 0 {
            switch segment.type {
            case .sequence:
                let take = min(remaining, segment.asns.count)
                leading.append(Segment(type: .sequence, asns: Array(segment.asns.prefix(take))))
                remaining -= take
            case .set:
                leading.append(segment)
                remaining -= 1
            case .confedSequence, .confedSet:
                leading.append(segment)
            }
        }
        return BGPASPath(segments: leading + as4Path.segments)
    }
}

/// AGGREGATOR / AS4_AGGREGATOR (RFC 4271 §5.1.7, RFC 6793 §3).
public struct BGPAggregator: Hashable, Sendable {
    public var asn: UInt32
    public var address: IPv4Address
    public init(asn: UInt32, address: IPv4Address) {
        self.asn = asn
        self.address = address
    }
}

/// A community, RFC 1997: `asn:value` in 4 octets.
public struct BGPCommunity: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(asn: UInt16, value: UInt16) { rawValue = UInt32(asn) << 16 | UInt32(value) }

    public var asn: UInt16 { UInt16(rawValue >> 16) }
    public var value: UInt16 { UInt16(truncatingIfNeeded: rawValue) }

    /// RFC 1997 well-known communities.
    public static let noExport = BGPCommunity(rawValue: 0xFFFF_FF01)
    public static let noAdvertise = BGPCommunity(rawValue: 0xFFFF_FF02)
    public static let noExportSubconfed = BGPCommunity(rawValue: 0xFFFF_FF03)

    public var description: String { "\(asn):\(value)" }
}

/// A large community, RFC 8092: three 4-octet values.
public struct BGPLargeCommunity: Hashable, Sendable, CustomStringConvertible {
    public var globalAdministrator: UInt32
    public var localData1: UInt32
    public var localData2: UInt32
    public init(_ globalAdministrator: UInt32, _ localData1: UInt32, _ localData2: UInt32) {
        self.globalAdministrator = globalAdministrator
        self.localData1 = localData1
        self.localData2 = localData2
    }
    public var description: String { "\(globalAdministrator):\(localData1):\(localData2)" }
}

/// NLRI of an MP attribute: prefixes for the unicast and multicast families IronLB parses,
/// raw bytes for any other family.
public enum BGPNLRI: Hashable, Sendable {
    case prefixes([IPPrefix])
    case opaque([UInt8])

    public var prefixes: [IPPrefix] {
        if case .prefixes(let list) = self { return list }
        return []
    }

    public var isEmpty: Bool {
        switch self {
        case .prefixes(let list): return list.isEmpty
        case .opaque(let bytes): return bytes.isEmpty
        }
    }
}

/// MP_REACH_NLRI, RFC 4760 §3.
public struct BGPMPReach: Hashable, Sendable {
    public enum NextHop: Hashable, Sendable {
        case ipv4(IPv4Address)
        /// RFC 2545 §3: a global address, optionally followed by the link-local one.
        /// Also the RFC 8950 form of IPv4 routes with an IPv6 next hop.
        case ipv6(global: IPv6Address, linkLocal: IPv6Address?)
        case opaque([UInt8])
    }

    public var family: BGPAddressFamily
    public var nextHop: NextHop
    /// The octet RFC 4760 reserves (formerly the SNPA count); sent as 0, kept for round trips.
    public var reserved: UInt8
    public var nlri: BGPNLRI

    public init(family: BGPAddressFamily, nextHop: NextHop, reserved: UInt8 = 0, nlri: BGPNLRI) {
        self.family = family
        self.nextHop = nextHop
        self.reserved = reserved
        self.nlri = nlri
    }
}

/// MP_UNREACH_NLRI, RFC 4760 §4. Empty withdrawn routes for a family is its End-of-RIB
/// marker (RFC 4724 §2).
public struct BGPMPUnreach: Hashable, Sendable {
    public var family: BGPAddressFamily
    public var withdrawn: BGPNLRI
    public init(family: BGPAddressFamily, withdrawn: BGPNLRI) {
        self.family = family
        self.withdrawn = withdrawn
    }
}
