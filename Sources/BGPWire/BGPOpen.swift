import NIOCore
import NetPrimitives

/// An OPEN message (RFC 4271 §4.2).
///
/// Capabilities are kept grouped as the peer grouped them into optional parameters (FRR
/// sends one capability per parameter, GoBGP and BIRD one parameter for all), so that a
/// decoded OPEN re-encodes to the same bytes.
public struct BGPOpen: Hashable, Sendable {
    /// An optional parameter (RFC 4271 §4.2, RFC 5492 §4).
    public enum Parameter: Hashable, Sendable {
        /// Parameter type 2.
        case capabilities([BGPCapability])
        case unknown(type: UInt8, value: [UInt8])
    }

    public var version: UInt8
    /// The 2-octet "My Autonomous System" field: AS_TRANS when the AS needs 4 octets.
    public var myAS: UInt16
    public var holdTime: UInt16
    public var bgpIdentifier: IPv4Address
    public var parameters: [Parameter]
    /// Whether the parameters use the RFC 9072 extended length encoding.
    public var extendedParametersLength: Bool

    public init(version: UInt8 = BGPLimits.version, myAS: UInt16, holdTime: UInt16, bgpIdentifier: IPv4Address,
                parameters: [Parameter], extendedParametersLength: Bool = false) {
        self.version = version
        self.myAS = myAS
        self.holdTime = holdTime
        self.bgpIdentifier = bgpIdentifier
        self.parameters = parameters
        self.extendedParametersLength = extendedParametersLength
    }

    /// An OPEN for `asn` with all capabilities in one parameter; the 4-octet AS capability is
    /// added, and `myAS` is AS_TRANS when `asn` does not fit 2 octets (RFC 6793 §4.1).
    public init(asn: UInt32, holdTime: UInt16, bgpIdentifier: IPv4Address, capabilities: [BGPCapability]) {
        var all = capabilities
        if !all.contains(where: { if case .fourOctetASN = $0 { return true } else { return false } }) {
            all.append(.fourOctetASN(asn))
        }
        self.init(myAS: asn <= UInt32(UInt16.max) ? UInt16(asn) : BGPLimits.asTrans, holdTime: holdTime,
                  bgpIdentifier: bgpIdentifier, parameters: [.capabilities(all)])
    }

    /// Every capability, in order, across parameters.
    public var capabilities: [BGPCapability] {
        parameters.flatMap { parameter -> [BGPCapability] in
            if case .capabilities(let list) = parameter { return list }
            return []
        }
    }

    /// The sender's AS number: the 4-octet AS capability when present, else `myAS`.
    public var asn: UInt32 {
        for case .fourOctetASN(let asn) in capabilities { return asn }
        return UInt32(myAS)
    }

    public var supportsFourOctetASN: Bool {
        capabilities.contains { if case .fourOctetASN = $0 { return true } else { return false } }
    }

    public var supportsExtendedMessages: Bool { capabilities.contains(.extendedMessage) }
    public var supportsRouteRefresh: Bool { capabilities.contains(.routeRefresh) }

    public var multiprotocolFamilies: [BGPAddressFamily] {
        capabilities.compactMap { if case .multiprotocol(let family) = $0 { return family } else { return nil } }
    }

    public var gracefulRestart: BGPGracefulRestart? {
        for case .gracefulRestart(let gr) in capabilities { return gr }
        return nil
    }
}

extension ByteBuffer {
    /// Decodes an OPEN body (after the header). Checks that need no session knowledge are
    /// made here: version, hold time 1 or 2, a zero BGP identifier, parameter lengths.
    mutating func readBGPOpenBody(messageLength: Int) throws(BGPError) -> BGPOpen {
        let lengthField = [UInt8(messageLength >> 8), UInt8(truncatingIfNeeded: messageLength)]
        guard let version = readInteger(as: UInt8.self), let myAS = readInteger(as: UInt16.self),
              let holdTime = readInteger(as: UInt16.self), let identifier = readInteger(as: UInt32.self),
              let parametersLength = readInteger(as: UInt8.self)
        else { throw .header(.badMessageLength, data: lengthField, "open-too-short") }
        guard version == BGPLimits.version else {
            throw .open(.unsupportedVersionNumber, data: [0, BGPLimits.version], "unsupported-version")
        }
        // RFC 9072 §2: a length of 255 followed by parameter type 255 announces the
        // extended format with 2-octet lengths.
        var extended = false
        var totalLength = Int(parametersLength)
        if parametersLength == 255, getInteger(at: readerIndex, as: UInt8.self) == 255 {
            moveReaderIndex(forwardBy: 1)
            guard let length = readInteger(as: UInt16.self) else {
                throw .header(.badMessageLength, data: lengthField, "open-length-mismatch")
            }
            extended = true
            totalLength = Int(length)
        }
        guard readableBytes == totalLength else {
            throw .header(.badMessageLength, data: lengthField, "open-length-mismatch")
        }
        var parameters: [BGPOpen.Parameter] = []
        while readableBytes > 0 {
            let type = readInteger(as: UInt8.self)
            let length: Int? = extended ? readInteger(as: UInt16.self).map(Int.init) : readInteger(as: UInt8.self).map(Int.init)
            guard let type, let length, length <= readableBytes else {
                throw .open(.unspecific, "parameter-overrun")
            }
            if type == 2 {
                parameters.append(.capabilities(try readBGPCapabilities(length: length)))
            } else {
                // RFC 4271 §6.2: Unsupported Optional Parameter.
                throw .open(.unsupportedOptionalParameter, "unsupported-optional-parameter")
            }
        }
        guard holdTime == 0 || holdTime >= 3 else {
            throw .open(.unacceptableHoldTime, data: [UInt8(holdTime >> 8), UInt8(truncatingIfNeeded: holdTime)], "unacceptable-hold-time")
        }
        guard identifier != 0 else {
            // RFC 6286 §2.2: the BGP Identifier is a non-zero 4-octet number.
            throw .open(.badBGPIdentifier, data: [0, 0, 0, 0], "zero-bgp-identifier")
        }
        return BGPOpen(version: version, myAS: myAS, holdTime: holdTime, bgpIdentifier: IPv4Address(rawValue: identifier),
                       parameters: parameters, extendedParametersLength: extended)
    }

    mutating func writeBGPOpenBody(_ open: BGPOpen) {
        writeInteger(open.version)
        writeInteger(open.myAS)
        writeInteger(open.holdTime)
        writeInteger(open.bgpIdentifier.rawValue)
        let lengthIndex = writerIndex
        if open.extendedParametersLength {
            writeBytes([255, 255, 0, 0])
        } else {
            writeInteger(UInt8(0))
        }
        let start = writerIndex
        for parameter in open.parameters {
            let type: UInt8
            switch parameter {
            case .capabilities: type = 2
            case .unknown(let t, _): type = t
            }
            writeInteger(type)
            let parameterLengthIndex = writerIndex
            if open.extendedParametersLength { writeInteger(UInt16(0)) } else { writeInteger(UInt8(0)) }
            let valueStart = writerIndex
            switch parameter {
            case .capabilities(let capabilities):
                for capability in capabilities { writeBGPCapability(capability) }
            case .unknown(_, let value):
                writeBytes(value)
            }
            let valueLength = writerIndex - valueStart
            if open.extendedParametersLength {
                setInteger(UInt16(valueLength), at: parameterLengthIndex)
            } else {
                precondition(valueLength <= 255, "optional parameter longer than 255 bytes without RFC 9072")
                setInteger(UInt8(valueLength), at: parameterLengthIndex)
            }
        }
        let total = writerIndex - start
        if open.extendedParametersLength {
            setInteger(UInt16(total), at: lengthIndex + 2)
        } else {
            precondition(total <= 255, "optional parameters longer than 255 bytes without RFC 9072")
            setInteger(UInt8(total), at: lengthIndex)
        }
    }
}
