import NIOCore

/// A BGP message.
public enum BGPMessage: Hashable, Sendable {
    case open(BGPOpen)
    case update(BGPUpdate)
    case notification(BGPNotification)
    case keepalive
    case routeRefresh(BGPRouteRefresh)

    public var type: BGPMessageType {
        switch self {
        case .open: return .open
        case .update: return .update
        case .notification: return .notification
        case .keepalive: return .keepalive
        case .routeRefresh: return .routeRefresh
        }
    }
}

extension ByteBuffer {
    /// Reads one message. Returns nil, leaving the buffer untouched, until the whole message
    /// is there; throws, leaving the buffer untouched, on a malformation whose RFC 7606
    /// handling is session reset. Header errors are reported as soon as the 19-octet header
    /// has arrived.
    public mutating func readBGPMessage(options: BGPCodecOptions) throws(BGPError) -> BGPMessage? {
        guard readableBytes >= BGPLimits.headerLength else { return nil }
        // RFC 4271 §6.1.
        for offset in 0..<BGPLimits.markerLength where getInteger(at: readerIndex + offset, as: UInt8.self) != 0xFF {
            throw .header(.connectionNotSynchronized, "bad-marker")
        }
        let length = Int(getInteger(at: readerIndex + 16, as: UInt16.self)!)
        let typeByte = getInteger(at: readerIndex + 18, as: UInt8.self)!
        let lengthField = [UInt8(length >> 8), UInt8(truncatingIfNeeded: length)]
        guard let type = BGPMessageType(rawValue: typeByte) else {
            throw .header(.badMessageType, data: [typeByte], "bad-message-type")
        }
        let range: ClosedRange<Int>
        switch type {
        case .open: range = 29...BGPLimits.maximumMessageLength
        case .update: range = 23...options.maximumMessageLength
        case .notification: range = 21...options.maximumMessageLength
        case .keepalive: range = 19...19
        case .routeRefresh: range = 23...options.maximumMessageLength
        }
        guard range.contains(length) else {
            throw .header(.badMessageLength, data: lengthField, "bad-message-length")
        }
        guard var body = getSlice(at: readerIndex + BGPLimits.headerLength, length: length - BGPLimits.headerLength) else {
            return nil
        }
        let message: BGPMessage
        switch type {
        case .open:
            message = .open(try body.readBGPOpenBody(messageLength: length))
        case .update:
            message = .update(try body.readBGPUpdateBody(options: options))
        case .notification:
            let code = body.readInteger(as: UInt8.self)!
            let subcode = body.readInteger(as: UInt8.self)!
            message = .notification(BGPNotification(code: code, subcode: subcode, data: body.readBytes(length: body.readableBytes)!))
        case .keepalive:
            message = .keepalive
        case .routeRefresh:
            let afi = body.readInteger(as: UInt16.self)!
            let subtype = body.readInteger(as: UInt8.self)!
            let safi = body.readInteger(as: UInt8.self)!
            // RFC 7313 §5: BoRR and EoRR carry nothing else.
            if subtype != BGPRouteRefresh.request && body.readableBytes > 0 {
                throw BGPError(code: .routeRefresh, subcode: BGPErrorCode.RouteRefreshSubcode.invalidMessageLength.rawValue,
                               data: getBytes(at: readerIndex, length: length) ?? [], reason: "bad-route-refresh-length")
            }
            message = .routeRefresh(BGPRouteRefresh(family: BGPAddressFamily(afi: BGPAFI(rawValue: afi), safi: BGPSAFI(rawValue: safi)),
                                                    subtype: subtype, trailing: body.readBytes(length: body.readableBytes)!))
        }
        moveReaderIndex(forwardBy: length)
        return message
    }

    /// Writes one message with its header; returns the bytes written. The caller keeps
    /// messages within the negotiated maximum size (the UPDATE packer does).
    @discardableResult
    public mutating func writeBGPMessage(_ message: BGPMessage, options: BGPCodecOptions = BGPCodecOptions()) -> Int {
        let start = writerIndex
        writeRepeatingByte(0xFF, count: BGPLimits.markerLength)
        writeInteger(UInt16(0))
        writeInteger(message.type.rawValue)
        switch message {
        case .open(let open):
            writeBGPOpenBody(open)
        case .update(let update):
            writeBGPUpdateBody(update, options: options)
        case .notification(let notification):
            writeInteger(notification.code)
            writeInteger(notification.subcode)
            writeBytes(notification.data)
        case .keepalive:
            break
        case .routeRefresh(let refresh):
            writeInteger(refresh.family.afi.rawValue)
            writeInteger(refresh.subtype)
            writeInteger(refresh.family.safi.rawValue)
            writeBytes(refresh.trailing)
        }
        let length = writerIndex - start
        precondition(length <= BGPLimits.maximumExtendedMessageLength, "BGP message of \(length) bytes")
        setInteger(UInt16(length), at: start + BGPLimits.markerLength)
        return length
    }
}
