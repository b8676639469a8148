import NIOCore
import NetPrimitives

/// An UPDATE message (RFC 4271 §4.3).
public struct BGPUpdate: Hashable, Sendable {
    /// IPv4 unicast prefixes withdrawn in the Withdrawn Routes field.
    public var withdrawnRoutes: [IPPrefix]
    /// Path attributes in wire order.
    public var attributes: [BGPPathAttribute]
    /// IPv4 unicast prefixes in the NLRI field.
    public var nlri: [IPPrefix]
    /// RFC 7606 errors that did not reset the session, found while decoding. A
    /// `.treatAsWithdraw` entry means every route of this UPDATE counts as withdrawn;
    /// `.attributeDiscard` entries name attributes left out of `attributes`.
    public var errors: [BGPError]

    public init(withdrawnRoutes: [IPPrefix] = [], attributes: [BGPPathAttribute] = [], nlri: [IPPrefix] = [], errors: [BGPError] = []) {
        self.withdrawnRoutes = withdrawnRoutes
        self.attributes = attributes
        self.nlri = nlri
        self.errors = errors
    }

    /// The End-of-RIB marker for `family` (RFC 4724 §2).
    public static func endOfRIB(_ family: BGPAddressFamily) -> BGPUpdate {
        if family == .ipv4Unicast { return BGPUpdate() }
        return BGPUpdate(attributes: [BGPPathAttribute(.mpUnreach(BGPMPUnreach(family: family, withdrawn: .prefixes([]))))])
    }

    /// The family this UPDATE marks End-of-RIB for, if it is such a marker.
    public var endOfRIB: BGPAddressFamily? {
        guard withdrawnRoutes.isEmpty, nlri.isEmpty, errors.isEmpty else { return nil }
        if attributes.isEmpty { return .ipv4Unicast }
        if attributes.count == 1, case .mpUnreach(let unreach) = attributes[0].value, unreach.withdrawn.isEmpty {
            return unreach.family
        }
        return nil
    }

    public var treatAsWithdraw: Bool { errors.contains { $0.handling == .treatAsWithdraw } }

    public func attribute(_ code: UInt8) -> BGPPathAttribute.Value? {
        attributes.first { $0.typeCode == code }?.value
    }

    public var origin: BGPOrigin? {
        if case .origin(let v) = attribute(BGPPathAttribute.TypeCode.origin) { return v }
        return nil
    }

    public var asPath: BGPASPath? {
        if case .asPath(let v) = attribute(BGPPathAttribute.TypeCode.asPath) { return v }
        return nil
    }

    public var as4Path: BGPASPath? {
        if case .as4Path(let v) = attribute(BGPPathAttribute.TypeCode.as4Path) { return v }
        return nil
    }

    public var nextHop: IPv4Address? {
        if case .nextHop(let v) = attribute(BGPPathAttribute.TypeCode.nextHop) { return v }
        return nil
    }

    public var multiExitDisc: UInt32? {
        if case .multiExitDisc(let v) = attribute(BGPPathAttribute.TypeCode.multiExitDisc) { return v }
        return nil
    }

    public var localPref: UInt32? {
        if case .localPref(let v) = attribute(BGPPathAttribute.TypeCode.localPref) { return v }
        return nil
    }

    public var communities: [BGPCommunity] {
        if case .communities(let v) = attribute(BGPPathAttribute.TypeCode.communities) { return v }
        return []
    }

    public var largeCommunities: [BGPLargeCommunity] {
        if case .largeCommunities(let v) = attribute(BGPPathAttribute.TypeCode.largeCommunities) { return v }
        return []
    }

    public var mpReach: BGPMPReach? {
        if case .mpReach(let v) = attribute(BGPPathAttribute.TypeCode.mpReachNLRI) { return v }
        return nil
    }

    public var mpUnreach: BGPMPUnreach? {
        if case .mpUnreach(let v) = attribute(BGPPathAttribute.TypeCode.mpUnreachNLRI) { return v }
        return nil
    }
}

extension ByteBuffer {
    /// Decodes an UPDATE body. Errors whose RFC 7606 handling is session reset are thrown;
    /// the others are recorded in `BGPUpdate.errors`.
    mutating func readBGPUpdateBody(options: BGPCodecOptions) throws(BGPError) -> BGPUpdate {
        // RFC 4271 §6.3: lengths that do not fit the message are a Malformed Attribute List.
        guard let withdrawnLength = readInteger(as: UInt16.self), var withdrawnField = readSlice(length: Int(withdrawnLength)),
              let attributesLength = readInteger(as: UInt16.self), var attributesField = readSlice(length: Int(attributesLength))
        else { throw .update(.malformedAttributeList, .sessionReset, "update-length-overrun") }
        var nlriField = self
        moveReaderIndex(forwardBy: readableBytes)

        var update = BGPUpdate()
        update.withdrawnRoutes = try withdrawnField.readBGPPrefixes(family: .ipv4) { .update(.invalidNetworkField, .sessionReset, "bad-withdrawn-prefix") }
        update.nlri = try nlriField.readBGPPrefixes(family: .ipv4) { .update(.invalidNetworkField, .sessionReset, "bad-nlri-prefix") }

        var seen = Set<UInt8>()
        while attributesField.readableBytes > 0 {
            guard let flagsByte = attributesField.getInteger(at: attributesField.readerIndex, as: UInt8.self),
                  let code = attributesField.getInteger(at: attributesField.readerIndex + 1, as: UInt8.self)
            else {
                update.errors.append(.update(.malformedAttributeList, .treatAsWithdraw, "attribute-overrun"))
                break
            }
            let flags = BGPPathAttribute.Flags(rawValue: flagsByte)
            let headerLength = flags.contains(.extendedLength) ? 4 : 3
            let length: Int? = flags.contains(.extendedLength)
                ? attributesField.getInteger(at: attributesField.readerIndex + 2, as: UInt16.self).map(Int.init)
                : attributesField.getInteger(at: attributesField.readerIndex + 2, as: UInt8.self).map(Int.init)
            guard let length, var whole = attributesField.readSlice(length: headerLength + length) else {
                // RFC 7606 §4: treat-as-withdraw, except that an MP attribute we cannot
                // parse leaves the NLRI unknown (RFC 7606 §5.3): session reset.
                if code == BGPPathAttribute.TypeCode.mpReachNLRI || code == BGPPathAttribute.TypeCode.mpUnreachNLRI {
                    throw .update(.optionalAttributeError, .sessionReset, "truncated-mp-attribute")
                }
                update.errors.append(.update(.malformedAttributeList, .treatAsWithdraw, "attribute-overrun"))
                break
            }
            let raw = Array(whole.readableBytesView)
            whole.moveReaderIndex(forwardBy: headerLength)
            var value = whole
            // RFC 7606 §3 g: repeated MP attributes reset the session; other repeats are dropped.
            guard seen.insert(code).inserted else {
                if code == BGPPathAttribute.TypeCode.mpReachNLRI || code == BGPPathAttribute.TypeCode.mpUnreachNLRI {
                    throw .update(.malformedAttributeList, .sessionReset, "duplicate-mp-attribute")
                }
                update.errors.append(.update(.malformedAttributeList, .attributeDiscard, "duplicate-attribute"))
                continue
            }
            do {
                let decoded = try value.readBGPAttributeValue(code: code, flags: flags, raw: raw, options: options)
                update.attributes.append(BGPPathAttribute(flags: flags, value: decoded))
            } catch {
                if error.handling == .sessionReset { throw error }
                update.errors.append(error)
            }
        }

        // RFC 4271 §6.3 / RFC 7606 §3 d: well-known mandatory attributes, needed only when
        // the UPDATE carries reachable routes.
        let hasMPReach = update.mpReach.map { !$0.nlri.isEmpty } ?? false
        if !update.nlri.isEmpty || hasMPReach {
            var required = [BGPPathAttribute.TypeCode.origin, BGPPathAttribute.TypeCode.asPath]
            if !update.nlri.isEmpty { required.append(BGPPathAttribute.TypeCode.nextHop) }
            let malformed = update.errors.contains { $0.handling == .treatAsWithdraw }
            for code in required where !seen.contains(code) && !malformed {
                update.errors.append(.update(.missingWellKnownAttribute, data: [code], .treatAsWithdraw, "missing-well-known-attribute"))
            }
        }
        return update
    }

    mutating func writeBGPUpdateBody(_ update: BGPUpdate, options: BGPCodecOptions) {
        let withdrawnIndex = writerIndex
        writeInteger(UInt16(0))
        for prefix in update.withdrawnRoutes { writeBGPPrefix(prefix) }
        setInteger(UInt16(writerIndex - withdrawnIndex - 2), at: withdrawnIndex)
        let attributesIndex = writerIndex
        writeInteger(UInt16(0))
        for attribute in update.attributes { writeBGPPathAttribute(attribute, options: options) }
        setInteger(UInt16(writerIndex - attributesIndex - 2), at: attributesIndex)
        for prefix in update.nlri { writeBGPPrefix(prefix) }
    }

    // MARK: - Prefixes (RFC 4271 §4.3, RFC 4760 §5)

    /// Reads prefixes until the buffer is empty.
    mutating func readBGPPrefixes(family: IPFamily, error: () -> BGPError) throws(BGPError) -> [IPPrefix] {
        var prefixes: [IPPrefix] = []
        while readableBytes > 0 {
            guard let prefix = readBGPPrefix(family: family) else { throw error() }
            prefixes.append(prefix)
        }
        return prefixes
    }

    /// One length-prefixed prefix; nil when the length exceeds the family's width or the
    /// bytes are missing. Bits past the length are ignored (RFC 4271 §4.3).
    mutating func readBGPPrefix(family: IPFamily) -> IPPrefix? {
        guard let bits = getInteger(at: readerIndex, as: UInt8.self), Int(bits) <= family.bitWidth else { return nil }
        let count = (Int(bits) + 7) / 8
        guard let bytes = getBytes(at: readerIndex + 1, length: count) else { return nil }
        moveReaderIndex(forwardBy: 1 + count)
        var integer: UInt128 = 0
        for (index, byte) in bytes.enumerated() {
            integer |= UInt128(byte) << (family.bitWidth - 8 * (index + 1))
        }
        return IPPrefix(containing: IPAddress(family: family, integer: integer), length: Int(bits))
    }

    mutating func writeBGPPrefix(_ prefix: IPPrefix) {
        writeInteger(UInt8(prefix.length))
        writeBytes(prefix.network.bytes.prefix((prefix.length + 7) / 8))
    }
}

extension IPPrefix {
    /// Bytes the prefix takes in an NLRI field.
    public var bgpEncodedLength: Int { 1 + (length + 7) / 8 }
}
