import Foundation
import NIOCore
import BGPWire

/// Hex fixtures under Tests/Fixtures/bgp: `#` starts a comment, whitespace is ignored.
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/bgp")

    static var names: [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return files.filter { $0.hasSuffix(".hex") }.map { String($0.dropLast(4)) }.sorted()
    }

    static func bytes(_ name: String) throws -> [UInt8] {
        let text = try String(contentsOf: directory.appendingPathComponent(name + ".hex"), encoding: .utf8)
        return hex(text)
    }

    static func buffer(_ name: String) throws -> ByteBuffer {
        ByteBuffer(bytes: try bytes(name))
    }

    /// The session between BIRD and GoBGP ran with BIRD's 4-octet AS support off.
    static func options(_ name: String) -> BGPCodecOptions {
        BGPCodecOptions(fourOctetASN: !(name.contains("bird") && name.contains("gobgp")))
    }
}

/// Parses hex text, skipping `#` comments and whitespace.
func hex(_ text: String) -> [UInt8] {
    var bytes: [UInt8] = []
    for line in text.split(separator: "\n") {
        let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let digits = content.filter { !$0.isWhitespace }
        var index = digits.startIndex
        while index < digits.endIndex {
            let next = digits.index(index, offsetBy: 2)
            bytes.append(UInt8(digits[index..<next], radix: 16)!)
            index = next
        }
    }
    return bytes
}

extension Array where Element == UInt8 {
    var hexString: String { map { String(format: "%02x", $0) }.joined() }
}
