import NIOCore

/// A capability advertised in OPEN (RFC 5492). Known capabilities are typed; any other is
/// kept as raw bytes so that decoding and re-encoding give back the same bytes.
public enum BGPCapability: Hashable, Sendable {
    /// RFC 4760 §8, code 1.
    case multiprotocol(BGPAddressFamily)
    /// RFC 2918 §2, code 2.
    case routeRefresh
    /// RFC 8654 §3, code 6.
    case extendedMessage
    /// RFC 4724 §3, code 64.
    case gracefulRestart(BGPGracefulRestart)
    /// RFC 6793 §3, code 65.
    case fourOctetASN(UInt32)
    /// RFC 7313 §3, code 70.
    case enhancedRouteRefresh
    /// Anything else (ADD-PATH, FQDN, long-lived graceful restart, Cisco's route refresh...).
    case unknown(code: UInt8, value: [UInt8])

    /// Capability codes, IANA "Capability Codes".
    public enum Code {
        public static let multiprotocol: UInt8 = 1
        public static let routeRefresh: UInt8 = 2
        public static let extendedMessage: UInt8 = 6
        public static let gracefulRestart: UInt8 = 64
        public static let fourOctetASN: UInt8 = 65
        public static let enhancedRouteRefresh: UInt8 = 70
    }

    public var code: UInt8 {
        switch self {
        case .multiprotocol: return Code.multiprotocol
        case .routeRefresh: return Code.routeRefresh
        case .extendedMessage: return Code.extendedMessage
        case .gracefulRestart: return Code.gracefulRestart
        case .fourOctetASN: return Code.fourOctetASN
        case .enhancedRouteRefresh: return Code.enhancedRouteRefresh
        case .unknown(let code, _): return code
        }
    }
}

/// The graceful restart capability value (RFC 4724 §3).
public struct BGPGracefulRestart: Hashable, Sendable {
    public struct Family: Hashable, Sendable {
        public var family: BGPAddressFamily
        /// Bit 0x80: forwarding state preserved.
        public var flags: UInt8
        public init(family: BGPAddressFamily, flags: UInt8 = 0) {
            self.family = family
            self.flags = flags
        }
    }

    /// The 4 high bits: 0x8 Restart State, 0x4 Notification (RFC 8538).
    public var flags: UInt8
    /// Seconds, 12 bits.
    public var restartTime: UInt16
    public var families: [Family]

    public init(flags: UInt8 = 0, restartTime: UInt16, families: [Family] = []) {
        self.flags = flags & 0x0f
        self.restartTime = restartTime & 0x0fff
        self.families = families
    }
}

extension ByteBuffer {
    /// Reads capabilities filling exactly `length` bytes. Throws 2/0 when a capability's
    /// length overruns the parameter or a known capability has the wrong length, as BIRD
    /// and GoBGP do (RFC 5492 names no subcode for it).
    mutating func readBGPCapabilities(length: Int) throws(BGPError) -> [BGPCapability] {
        guard var slice = readSlice(length: length) else {
            throw .open(.unspecific, "capability-overrun")
        }
        var capabilities: [BGPCapability] = []
        while slice.readableBytes > 0 {
            guard let code = slice.readInteger(as: UInt8.self),
                  let valueLength = slice.readInteger(as: UInt8.self),
                  var value = slice.readSlice(length: Int(valueLength))
            else { throw .open(.unspecific, "capability-overrun") }
            capabilities.append(try Self.decodeCapability(code: code, value: &value))
        }
        return capabilities
    }

    private static func decodeCapability(code: UInt8, value: inout ByteBuffer) throws(BGPError) -> BGPCapability {
        let length = value.readableBytes
        switch code {
        case BGPCapability.Code.multiprotocol:
            guard length == 4, let afi = value.readInteger(as: UInt16.self),
                  value.readInteger(as: UInt8.self) != nil, let safi = value.readInteger(as: UInt8.self)
            else { throw .open(.unspecific, "bad-multiprotocol-capability") }
            return .multiprotocol(BGPAddressFamily(afi: BGPAFI(rawValue: afi), safi: BGPSAFI(rawValue: safi)))
        case BGPCapability.Code.routeRefresh:
            guard length == 0 else { throw .open(.unspecific, "bad-route-refresh-capability") }
            return .routeRefresh
        case BGPCapability.Code.extendedMessage:
            guard length == 0 else { throw .open(.unspecific, "bad-extended-message-capability") }
            return .extendedMessage
        case BGPCapability.Code.enhancedRouteRefresh:
            guard length == 0 else { throw .open(.unspecific, "bad-enhanced-route-refresh-capability") }
            return .enhancedRouteRefresh
        case BGPCapability.Code.fourOctetASN:
            guard length == 4, let asn = value.readInteger(as: UInt32.self) else {
                throw .open(.unspecific, "bad-four-octet-as-capability")
            }
            return .fourOctetASN(asn)
        case BGPCapability.Code.gracefulRestart:
            guard length >= 2, (length - 2) % 4 == 0, let header = value.readInteger(as: UInt16.self) else {
                throw .open(.unspecific, "bad-graceful-restart-capability")
            }
            var families: [BGPGracefulRestart.Family] = []
            while let afi = value.readInteger(as: UInt16.self), let safi = value.readInteger(as: UInt8.self),
                  let flags = value.readInteger(as: UInt8.self) {
                families.append(.init(family: BGPAddressFamily(afi: BGPAFI(rawValue: afi), safi: BGPSAFI(rawValue: safi)), flags: flags))
            }
            return .gracefulRestart(BGPGracefulRestart(flags: UInt8(header >> 12), restartTime: header & 0x0fff, families: families))
        default:
            return .unknown(code: code, value: value.readBytes(length: length) ?? [])
        }
    }

    /// Writes one capability (code, length, value); returns the bytes written.
    @discardableResult
    public mutating func writeBGPCapability(_ capability: BGPCapability) -> Int {
        let start = writerIndex
        writeInteger(capability.code)
        let lengthIndex = writerIndex
        writeInteger(UInt8(0))
        switch capability {
        case .multiprotocol(let family):
            writeInteger(family.afi.rawValue)
            writeInteger(UInt8(0))
            writeInteger(family.safi.rawValue)
        case .routeRefresh, .extendedMessage, .enhancedRouteRefresh:
            break
        case .gracefulRestart(let gr):
            writeInteger(UInt16(gr.flags & 0x0f) << 12 | (gr.restartTime & 0x0fff))
            for family in gr.families {
                writeInteger(family.family.afi.rawValue)
                writeInteger(family.family.safi.rawValue)
                writeInteger(family.flags)
            }
        case .fourOctetASN(let asn):
            writeInteger(asn)
        case .unknown(_, let value):
            writeBytes(value)
        }
        let valueLength = writerIndex - lengthIndex - 1
        precondition(valueLength <= 255, "capability value longer than 255 bytes")
        setInteger(UInt8(valueLength), at: lengthIndex)
        return writerIndex - start
    }
}
