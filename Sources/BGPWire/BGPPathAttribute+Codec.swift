import NIOCore
import NetPrimitives

extension ByteBuffer {
    /// Decodes one attribute's value (the whole buffer). `raw` is the attribute as received
    /// (flags, type, length, value): the data of most UPDATE NOTIFICATIONs (RFC 4271 §6.3).
    /// The RFC 7606 handling of each malformation is given per attribute (§7).
    mutating func readBGPAttributeValue(code: UInt8, flags: BGPPathAttribute.Flags, raw: [UInt8],
                                        options: BGPCodecOptions) throws(BGPError) -> BGPPathAttribute.Value {
        typealias T = BGPPathAttribute.TypeCode
        let length = readableBytes

        guard let category = BGPPathAttribute.requiredCategory(code: code) else {
            // RFC 4271 §6.3: an unrecognised well-known attribute.
            guard flags.contains(.optional) else {
                throw .update(.unrecognizedWellKnownAttribute, data: raw, .sessionReset, "unrecognized-well-known-attribute")
            }
            return .unknown(code: code, value: readBytes(length: length) ?? [])
        }
        let isMP = code == T.mpReachNLRI || code == T.mpUnreachNLRI
        if flags.intersection([.optional, .transitive]) != category {
            throw .update(.attributeFlagsError, data: raw, isMP ? .sessionReset : .treatAsWithdraw, "attribute-flags-error")
        }

        func lengthError(_ handling: BGPError.Handling) -> BGPError {
            .update(.attributeLengthError, data: raw, handling, "attribute-length-error")
        }

        switch code {
        case T.origin:
            guard length == 1, let byte = readInteger(as: UInt8.self) else { throw lengthError(.treatAsWithdraw) }
            guard let origin = BGPOrigin(rawValue: byte) else {
                throw .update(.invalidOriginAttribute, data: raw, .treatAsWithdraw, "invalid-origin")
            }
            return .origin(origin)

        case T.asPath:
            guard let path = readBGPASPath(asnSize: options.fourOctetASN ? 4 : 2) else {
                throw .update(.malformedASPath, .treatAsWithdraw, "malformed-as-path")
            }
            return .asPath(path)

        case T.nextHop:
            guard length == 4, let value = readInteger(as: UInt32.self) else { throw lengthError(.treatAsWithdraw) }
            let address = IPv4Address(rawValue: value)
            // RFC 4271 §6.3: syntactically incorrect next hops (unspecified, multicast, broadcast).
            guard value != 0, value >> 28 != 0xE, address != .broadcast else {
                throw .update(.invalidNextHopAttribute, data: raw, .treatAsWithdraw, "invalid-next-hop")
            }
            return .nextHop(address)

        case T.multiExitDisc:
            guard length == 4, let value = readInteger(as: UInt32.self) else { throw lengthError(.treatAsWithdraw) }
            return .multiExitDisc(value)

        case T.localPref:
            guard length == 4, let value = readInteger(as: UInt32.self) else { throw lengthError(.treatAsWithdraw) }
            return .localPref(value)

        case T.atomicAggregate:
            guard length == 0 else { throw lengthError(.attributeDiscard) }
            return .atomicAggregate

        case T.aggregator:
            let asnSize = options.fourOctetASN ? 4 : 2
            guard length == asnSize + 4, let aggregator = readBGPAggregator(asnSize: asnSize) else {
                throw lengthError(.attributeDiscard)
            }
            return .aggregator(aggregator)

        case T.communities:
            // RFC 7606 §7.8: a length that is not a non-zero multiple of 4.
            guard length > 0, length % 4 == 0 else { throw lengthError(.treatAsWithdraw) }
            var list: [BGPCommunity] = []
            while let value = readInteger(as: UInt32.self) { list.append(BGPCommunity(rawValue: value)) }
            return .communities(list)

        case T.largeCommunities:
            // RFC 8092 §6: a length that is not a non-zero multiple of 12.
            guard length > 0, length % 12 == 0 else { throw lengthError(.treatAsWithdraw) }
            var list: [BGPLargeCommunity] = []
            while let a = readInteger(as: UInt32.self), let b = readInteger(as: UInt32.self), let c = readInteger(as: UInt32.self) {
                list.append(BGPLargeCommunity(a, b, c))
            }
            return .largeCommunities(list)

        case T.mpReachNLRI:
            guard let reach = readBGPMPReach() else {
                // RFC 4760 §7: Optional Attribute Error; IronLB resets the session.
                throw .update(.optionalAttributeError, data: raw, .sessionReset, "malformed-mp-reach")
            }
            return .mpReach(reach)

        case T.mpUnreachNLRI:
            guard let unreach = readBGPMPUnreach() else {
                throw .update(.optionalAttributeError, data: raw, .sessionReset, "malformed-mp-unreach")
            }
            return .mpUnreach(unreach)

        case T.as4Path:
            // RFC 6793 §6: a malformed AS4_PATH (including confederation segments) is discarded.
            guard let path = readBGPASPath(asnSize: 4),
                  !path.segments.contains(where: { $0.type == .confedSequence || $0.type == .confedSet })
            else { throw .update(.optionalAttributeError, data: raw, .attributeDiscard, "malformed-as4-path") }
            return .as4Path(path)

        case T.as4Aggregator:
            guard length == 8, let aggregator = readBGPAggregator(asnSize: 4) else {
                throw .update(.optionalAttributeError, data: raw, .attributeDiscard, "malformed-as4-aggregator")
            }
            return .as4Aggregator(aggregator)

        default:
            preconditionFailure("requiredCategory(code:) and this switch disagree on type \(code)")
        }
    }

    /// Segments filling the whole buffer; nil on an unknown segment type, an empty segment
    /// (RFC 7606 §7.2) or an overrun.
    mutating func readBGPASPath(asnSize: Int) -> BGPASPath? {
        var segments: [BGPASPath.Segment] = []
        while readableBytes > 0 {
            guard let typeByte = readInteger(as: UInt8.self), let type = BGPASPath.SegmentType(rawValue: typeByte),
                  let count = readInteger(as: UInt8.self), count > 0, readableBytes >= Int(count) * asnSize
            else { return nil }
            var asns: [UInt32] = []
            asns.reserveCapacity(Int(count))
            for _ in 0..<count {
                if asnSize == 4 {
                    asns.append(readInteger(as: UInt32.self)!)
                } else {
                    asns.append(UInt32(readInteger(as: UInt16.self)!))
                }
            }
            segments.append(BGPASPath.Segment(type: type, asns: asns))
        }
        return BGPASPath(segments: segments)
    }

    mutating func readBGPAggregator(asnSize: Int) -> BGPAggregator? {
        let asn: UInt32? = asnSize == 4 ? readInteger(as: UInt32.self) : readInteger(as: UInt16.self).map(UInt32.init)
        guard let asn, let address = readInteger(as: UInt32.self) else { return nil }
        return BGPAggregator(asn: asn, address: IPv4Address(rawValue: address))
    }

    /// RFC 4760 §3; nil when any length is inconsistent.
    mutating func readBGPMPReach() -> BGPMPReach? {
        guard let afi = readInteger(as: UInt16.self), let safi = readInteger(as: UInt8.self),
              let nextHopLength = readInteger(as: UInt8.self), var nextHopField = readSlice(length: Int(nextHopLength)),
              let reserved = readInteger(as: UInt8.self)
        else { return nil }
        let family = BGPAddressFamily(afi: BGPAFI(rawValue: afi), safi: BGPSAFI(rawValue: safi))
        let nextHop: BGPMPReach.NextHop
        if let ipFamily = family.parsedIPFamily {
            switch (ipFamily, nextHopLength) {
            case (.ipv4, 4):
                nextHop = .ipv4(IPv4Address(rawValue: nextHopField.readInteger(as: UInt32.self)!))
            case (_, 16), (_, 32):
                // RFC 2545 §3 (IPv6), RFC 8950 §3 (IPv4 over an IPv6 next hop).
                let global = IPv6Address(rawValue: nextHopField.readInteger(as: UInt128.self)!)
                let linkLocal = nextHopField.readInteger(as: UInt128.self).map(IPv6Address.init(rawValue:))
                nextHop = .ipv6(global: global, linkLocal: linkLocal)
            default:
                return nil
            }
            var nlri: [IPPrefix] = []
            while readableBytes > 0 {
                guard let prefix = readBGPPrefix(family: ipFamily) else { return nil }
                nlri.append(prefix)
            }
            return BGPMPReach(family: family, nextHop: nextHop, reserved: reserved, nlri: .prefixes(nlri))
        }
        nextHop = .opaque(nextHopField.readBytes(length: Int(nextHopLength)) ?? [])
        return BGPMPReach(family: family, nextHop: nextHop, reserved: reserved, nlri: .opaque(readBytes(length: readableBytes) ?? []))
    }

    /// RFC 4760 §4; nil when a prefix is malformed.
    mutating func readBGPMPUnreach() -> BGPMPUnreach? {
        guard let afi = readInteger(as: UInt16.self), let safi = readInteger(as: UInt8.self) else { return nil }
        let family = BGPAddressFamily(afi: BGPAFI(rawValue: afi), safi: BGPSAFI(rawValue: safi))
        guard let ipFamily = family.parsedIPFamily else {
            return BGPMPUnreach(family: family, withdrawn: .opaque(readBytes(length: readableBytes) ?? []))
        }
        var withdrawn: [IPPrefix] = []
        while readableBytes > 0 {
            guard let prefix = readBGPPrefix(family: ipFamily) else { return nil }
            withdrawn.append(prefix)
        }
        return BGPMPUnreach(family: family, withdrawn: .prefixes(withdrawn))
    }

    // MARK: - Encoding

    /// Writes flags, type, length and value. Extended Length is used when the flags ask for
    /// it or the value needs it.
    @discardableResult
    public mutating func writeBGPPathAttribute(_ attribute: BGPPathAttribute, options: BGPCodecOptions) -> Int {
        let start = writerIndex
        var value = ByteBuffer()
        value.writeBGPAttributeValue(attribute.value, options: options)
        var flags = attribute.flags
        if value.readableBytes > 255 { flags.insert(.extendedLength) }
        precondition(value.readableBytes <= Int(UInt16.max), "path attribute longer than 65535 bytes")
        writeInteger(flags.rawValue)
        writeInteger(attribute.typeCode)
        if flags.contains(.extendedLength) {
            writeInteger(UInt16(value.readableBytes))
        } else {
            writeInteger(UInt8(value.readableBytes))
        }
        writeBuffer(&value)
        return writerIndex - start
    }

    mutating func writeBGPAttributeValue(_ value: BGPPathAttribute.Value, options: BGPCodecOptions) {
        switch value {
        case .origin(let origin):
            writeInteger(origin.rawValue)
        case .asPath(let path):
            writeBGPASPath(path, asnSize: options.fourOctetASN ? 4 : 2)
        case .as4Path(let path):
            writeBGPASPath(path, asnSize: 4)
        case .nextHop(let address):
            writeInteger(address.rawValue)
        case .multiExitDisc(let value), .localPref(let value):
            writeInteger(value)
        case .atomicAggregate:
            break
        case .aggregator(let aggregator):
            writeBGPASN(aggregator.asn, size: options.fourOctetASN ? 4 : 2)
            writeInteger(aggregator.address.rawValue)
        case .as4Aggregator(let aggregator):
            writeInteger(aggregator.asn)
            writeInteger(aggregator.address.rawValue)
        case .communities(let list):
            for community in list { writeInteger(community.rawValue) }
        case .largeCommunities(let list):
            for community in list {
                writeInteger(community.globalAdministrator)
                writeInteger(community.localData1)
                writeInteger(community.localData2)
            }
        case .mpReach(let reach):
            writeInteger(reach.family.afi.rawValue)
            writeInteger(reach.family.safi.rawValue)
            switch reach.nextHop {
            case .ipv4(let address):
                writeInteger(UInt8(4))
                writeInteger(address.rawValue)
            case .ipv6(let global, let linkLocal):
                writeInteger(UInt8(linkLocal == nil ? 16 : 32))
                writeInteger(global.rawValue)
                if let linkLocal { writeInteger(linkLocal.rawValue) }
            case .opaque(let bytes):
                writeInteger(UInt8(bytes.count))
                writeBytes(bytes)
            }
            writeInteger(reach.reserved)
            writeBGPNLRI(reach.nlri)
        case .mpUnreach(let unreach):
            writeInteger(unreach.family.afi.rawValue)
            writeInteger(unreach.family.safi.rawValue)
            writeBGPNLRI(unreach.withdrawn)
        case .unknown(_, let bytes):
            writeBytes(bytes)
        }
    }

    /// An AS number in 2 or 4 octets; one that does not fit 2 octets becomes AS_TRANS
    /// (RFC 6793 §4.2.2).
    mutating func writeBGPASN(_ asn: UInt32, size: Int) {
        if size == 4 {
            writeInteger(asn)
        } else {
            writeInteger(asn <= UInt32(UInt16.max) ? UInt16(asn) : BGPLimits.asTrans)
        }
    }

    mutating func writeBGPASPath(_ path: BGPASPath, asnSize: Int) {
        for segment in path.segments {
            // Long segments are split, as RFC 4271 §5.1.2 allows for sequences.
            var rest = segment.asns[...]
            while !rest.isEmpty {
                let chunk = rest.prefix(255)
                rest = rest.dropFirst(chunk.count)
                writeInteger(segment.type.rawValue)
                writeInteger(UInt8(chunk.count))
                for asn in chunk { writeBGPASN(asn, size: asnSize) }
            }
        }
    }

    mutating func writeBGPNLRI(_ nlri: BGPNLRI) {
        switch nlri {
        case .prefixes(let list):
            for prefix in list { writeBGPPrefix(prefix) }
        case .opaque(let bytes):
            writeBytes(bytes)
        }
    }
}

extension BGPAddressFamily {
    /// The IP family of the families whose NLRI IronLB parses (unicast and multicast).
    var parsedIPFamily: IPFamily? {
        guard safi == .unicast || safi == .multicast else { return nil }
        switch afi {
        case .ipv4: return .ipv4
        case .ipv6: return .ipv6
        default: return nil
        }
    }
}
