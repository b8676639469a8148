import NIOCore

/// A NOTIFICATION message (RFC 4271 §4.5). Decoding accepts any code and data: a
/// NOTIFICATION is never answered with another one.
public struct BGPNotification: Hashable, Sendable, CustomStringConvertible {
    public var code: UInt8
    public var subcode: UInt8
    public var data: [UInt8]

    public init(code: UInt8, subcode: UInt8, data: [UInt8] = []) {
        self.code = code
        self.subcode = subcode
        self.data = data
    }

    public init(code: BGPErrorCode, subcode: UInt8 = 0, data: [UInt8] = []) {
        self.init(code: code.rawValue, subcode: subcode, data: data)
    }

    /// Hold Timer Expired (RFC 4271 §6.5).
    public static let holdTimerExpired = BGPNotification(code: .holdTimerExpired)

    /// A Cease with the Administrative Shutdown (2) or Reset (4) subcode and a shutdown
    /// communication (RFC 9003 §2): a length octet and up to 255 octets of UTF-8, cut at a
    /// character boundary.
    public static func cease(_ subcode: BGPErrorCode.CeaseSubcode, communication: String? = nil) -> BGPNotification {
        guard let communication, subcode == .administrativeShutdown || subcode == .administrativeReset else {
            return BGPNotification(code: .cease, subcode: subcode.rawValue)
        }
        var bytes: [UInt8] = []
        for scalar in communication.unicodeScalars {
            let encoded = Array(String(scalar).utf8)
            if bytes.count + encoded.count > 255 { break }
            bytes += encoded
        }
        return BGPNotification(code: .cease, subcode: subcode.rawValue, data: [UInt8(bytes.count)] + bytes)
    }

    /// The RFC 9003 shutdown communication of a Cease/Administrative Shutdown or Reset, when
    /// the data holds one that is well formed UTF-8.
    public var shutdownCommunication: String? {
        guard code == BGPErrorCode.cease.rawValue,
              subcode == BGPErrorCode.CeaseSubcode.administrativeShutdown.rawValue
                || subcode == BGPErrorCode.CeaseSubcode.administrativeReset.rawValue,
              let length = data.first, data.count >= 1 + Int(length)
        else { return nil }
        return String(validating: data[1..<(1 + Int(length))], as: UTF8.self)
    }

    public var description: String {
        if let text = shutdownCommunication { return "\(code)/\(subcode) \"\(text)\"" }
        return "\(code)/\(subcode)"
    }
}

/// A ROUTE-REFRESH message (RFC 2918 §3), with the RFC 7313 §3.2 subtype in the formerly
/// reserved octet: 0 a request, 1 Beginning-of-RIB-Route-Refresh, 2 End-of-RIB-Route-Refresh.
public struct BGPRouteRefresh: Hashable, Sendable {
    public var family: BGPAddressFamily
    public var subtype: UInt8
    /// Anything after the SAFI: ORF entries (RFC 5291) in a request, which IronLB ignores.
    public var trailing: [UInt8]

    public init(family: BGPAddressFamily, subtype: UInt8 = 0, trailing: [UInt8] = []) {
        self.family = family
        self.subtype = subtype
        self.trailing = trailing
    }

    public static let request: UInt8 = 0
    public static let beginningOfRIB: UInt8 = 1
    public static let endOfRIB: UInt8 = 2
}
