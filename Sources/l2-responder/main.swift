// l2-responder: a minimal standalone layer-2 responder for tests and benchmarks. It answers
// ARP and Neighbor Solicitations for the given VIPs on one interface, sends the takeover
// burst at start, and prints one line per decision ("reply arp 192.0.2.50", "drop notOwned").
// `l2-responder inject IFACE FILE...` sends the frames in fixture-format hex files instead.
// It is not the speaker: no Kubernetes, no ownership; `ironlb speaker` will wire the same parts.
import Glibc
import LinkWire
import NIOCore
import NetPrimitives
import PacketIO

/// One line to stdout, flushed at once (tests read it while the process runs).
func say(_ line: String) {
    print(line)
    fflush(nil)
}

func fail(_ message: String) -> Never {
    let text = Array("l2-responder: \(message)\n".utf8)
    _ = text.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count) }
    exit(2)
}

func hexFrame(_ path: String) -> [UInt8] {
    guard let file = fopen(path, "r") else { fail("cannot open \(path)") }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var line: UnsafeMutablePointer<CChar>?
    var capacity = 0
    while getline(&line, &capacity, file) > 0, let line {
        let text = String(cString: line)
        if text.hasPrefix("#") { continue }
        let digits = Array(text.unicodeScalars.filter { $0.properties.isASCIIHexDigit })
        var index = 0
        while index + 1 < digits.count {
            bytes.append(UInt8(String(digits[index]) + String(digits[index + 1]), radix: 16)!)
            index += 2
        }
    }
    free(line)
    return bytes
}

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "inject" {
    guard arguments.count >= 3 else { fail("usage: l2-responder inject IFACE FILE...") }
    do {
        let socket = try PacketSocket(interface: arguments[1])
        for path in arguments.dropFirst(2) {
            try socket.send(hexFrame(path))
            say("sent \(path)")
        }
    } catch {
        fail("\(error)")
    }
    exit(0)
}

var interfaceName: String?
var vips: [IPAddress] = []
var index = 0
while index < arguments.count {
    switch arguments[index] {
    case "--interface" where index + 1 < arguments.count:
        interfaceName = arguments[index + 1]
        index += 2
    case "--vip" where index + 1 < arguments.count:
        guard let vip = IPAddress(arguments[index + 1]) else { fail("not an IP address: \(arguments[index + 1])") }
        vips.append(vip)
        index += 2
    default:
        fail("usage: l2-responder --interface IFACE --vip IP [--vip IP...] | inject IFACE FILE...")
    }
}
guard let interfaceName, !vips.isEmpty else { fail("--interface and at least one --vip are required") }

do {
    guard let info = try InterfaceDiscovery.scan().first(where: { $0.name == interfaceName }) else {
        fail("no interface \(interfaceName)")
    }
    let socket = try PacketSocket(interface: interfaceName)
    let memberships = try SolicitedNodeMemberships()
    for case .v6(let vip) in vips { try memberships.join(vip: vip, interfaceIndex: socket.interfaceIndex) }
    let interface = ResponderInterface(name: interfaceName, mac: info.mac, addresses: info.addresses)
    let owned = Dictionary(uniqueKeysWithValues: vips.map { ($0, Set([interfaceName])) })

    // The takeover burst: at once, then every second for five seconds (between reads).
    var burstsLeft = 6
    var nextBurst = timespec()
    clock_gettime(CLOCK_MONOTONIC, &nextBurst)
    say("ready \(interfaceName) \(info.mac) \(vips.map(\.description).joined(separator: " "))")
    while true {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        if burstsLeft > 0, (now.tv_sec, now.tv_nsec) >= (nextBurst.tv_sec, nextBurst.tv_nsec) {
            for vip in vips {
                for frame in Announcement.frames(for: vip, mac: info.mac) { try socket.send(frame) }
            }
            say("announce \(vips.map(\.description).joined(separator: " "))")
            burstsLeft -= 1
            nextBurst.tv_sec += 1
        }
        guard let (bytes, type) = try socket.receive(timeoutMilliseconds: 100) else { continue }
        if type == .outgoing { continue }
        switch Responder.decide(ByteBuffer(bytes: bytes), arrivedOn: interface, owned: owned) {
        case .reply(let reply):
            try socket.send(reply)
            switch reply.packet {
            case .arp(let arp): say("reply arp \(arp.senderProtocolAddress)")
            case .ndp(let ndp): say("reply ndp \(ndp.ipv6.source)")
            }
        case .drop(let reason):
            say("drop \(reason)")
        }
    }
} catch {
    fail("\(error)")
}
