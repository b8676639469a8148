// l2-responder: PacketIO's Layer2Responder on its own, for tests and benchmarks. It answers
// ARP and Neighbor Solicitations for the given VIPs on one interface, sends the takeover
// burst at start, and prints one line per decision ("reply arp 192.0.2.50", "drop notOwned").
// `l2-responder inject IFACE FILE...` sends the frames in fixture-format hex files instead.
// It is not the speaker: no Kubernetes, no ownership; `ironlb speaker` will wire the same parts.
import Glibc
import LinkWire
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
    let responder = try Layer2Responder { _, decision in
        switch decision {
        case .reply(let reply):
            switch reply.packet {
            case .arp(let arp): say("reply arp \(arp.senderProtocolAddress)")
            case .ndp(let ndp): say("reply ndp \(ndp.ipv6.source)")
            }
        case .drop(let reason):
            say("drop \(reason)")
        }
    }
    responder.answer(Dictionary(uniqueKeysWithValues: vips.map { ($0, [interfaceName]) }))
    guard responder.plan.count == vips.count else { fail("cannot answer on \(interfaceName): \(responder.statistics)") }
    say("ready \(interfaceName) \(info.mac) \(vips.map(\.description).joined(separator: " "))")
    // The takeover burst: at once, then every second for five seconds; then rescans.
    for round in 0..<6 {
        if round > 0 { sleep(1) }
        responder.announce(vips)
        say("announce \(vips.map(\.description).joined(separator: " "))")
    }
    while true {
        sleep(5)
        responder.rescan()
    }
} catch {
    fail("\(error)")
}
