/// A protocol error found in a peer's message: the NOTIFICATION to send (RFC 4271 §4.5,
/// §6) and how RFC 7606 says to handle it.
///
/// `reason` is a short stable phrase fit for a metric label ("bad-marker").
public struct BGPError: Error, Hashable, Sendable, CustomStringConvertible {
    /// RFC 7606 §2.
    public enum Handling: String, Hashable, Sendable {
        /// Send the NOTIFICATION and close the session.
        case sessionReset = "session-reset"
        /// Keep the session; treat the UPDATE's routes as withdrawn.
        case treatAsWithdraw = "treat-as-withdraw"
        /// Keep the session; ignore the malformed attribute.
        case attributeDiscard = "attribute-discard"
    }

    public var code: BGPErrorCode
    public var subcode: UInt8
    public var data: [UInt8]
    public var handling: Handling
    public var reason: String

    public init(code: BGPErrorCode, subcode: UInt8, data: [UInt8] = [], handling: Handling = .sessionReset, reason: String) {
        self.code = code
        self.subcode = subcode
        self.data = data
        self.handling = handling
        self.reason = reason
    }

    /// The NOTIFICATION that reports this error to the peer.
    public var notification: BGPNotification {
        BGPNotification(code: code.rawValue, subcode: subcode, data: data)
    }

    public var description: String { "\(reason) (\(code.rawValue)/\(subcode), \(handling.rawValue))" }

    static func header(_ subcode: BGPErrorCode.HeaderSubcode, data: [UInt8] = [], _ reason: String) -> BGPError {
        BGPError(code: .messageHeader, subcode: subcode.rawValue, data: data, reason: reason)
    }

    static func open(_ subcode: BGPErrorCode.OpenSubcode, data: [UInt8] = [], _ reason: String) -> BGPError {
        BGPError(code: .openMessage, subcode: subcode.rawValue, data: data, reason: reason)
    }

    static func update(_ subcode: BGPErrorCode.UpdateSubcode, data: [UInt8] = [], _ handling: Handling, _ reason: String) -> BGPError {
        BGPError(code: .updateMessage, subcode: subcode.rawValue, data: data, handling: handling, reason: reason)
    }
}

/// NOTIFICATION error codes (RFC 4271 §4.5, RFC 7313 §5) and their subcodes.
public enum BGPErrorCode: UInt8, Hashable, Sendable, CaseIterable {
    case messageHeader = 1
    case openMessage = 2
    case updateMessage = 3
    case holdTimerExpired = 4
    case finiteStateMachine = 5
    case cease = 6
    case routeRefresh = 7

    /// RFC 4271 §4.5.
    public enum HeaderSubcode: UInt8, Sendable {
        case connectionNotSynchronized = 1
        case badMessageLength = 2
        case badMessageType = 3
    }

    /// RFC 4271 §4.5, RFC 5492 §5 (7), RFC 9234 (11).
    public enum OpenSubcode: UInt8, Sendable {
        case unspecific = 0
        case unsupportedVersionNumber = 1
        case badPeerAS = 2
        case badBGPIdentifier = 3
        case unsupportedOptionalParameter = 4
        case unacceptableHoldTime = 6
        case unsupportedCapability = 7
    }

    /// RFC 4271 §4.5.
    public enum UpdateSubcode: UInt8, Sendable {
        case malformedAttributeList = 1
        case unrecognizedWellKnownAttribute = 2
        case missingWellKnownAttribute = 3
        case attributeFlagsError = 4
        case attributeLengthError = 5
        case invalidOriginAttribute = 6
        case invalidNextHopAttribute = 8
        case optionalAttributeError = 9
        case invalidNetworkField = 10
        case malformedASPath = 11
    }

    /// RFC 6608 §4.
    public enum FSMSubcode: UInt8, Sendable {
        case unspecified = 0
        case unexpectedMessageInOpenSent = 1
        case unexpectedMessageInOpenConfirm = 2
        case unexpectedMessageInEstablished = 3
    }

    /// RFC 4486 §4, RFC 8538 (hard reset).
    public enum CeaseSubcode: UInt8, Sendable {
        case maximumPrefixesReached = 1
        case administrativeShutdown = 2
        case peerDeconfigured = 3
        case administrativeReset = 4
        case connectionRejected = 5
        case otherConfigurationChange = 6
        case connectionCollisionResolution = 7
        case outOfResources = 8
        case hardReset = 9
        /// RFC 9384: BFD declared the path to the peer down.
        case bfdDown = 10
    }

    /// RFC 7313 §5.
    public enum RouteRefreshSubcode: UInt8, Sendable {
        case invalidMessageLength = 1
    }
}
