/// RFC 4648 base64 (standard alphabet, padded), used for Secret data and kubeconfig `*-data`.
public enum Base64 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public static func encode(_ bytes: some Collection<UInt8>) -> String {
        let input = Array(bytes)
        var out: [UInt8] = []
        out.reserveCapacity((input.count + 2) / 3 * 4)
        var offset = 0
        while offset + 3 <= input.count {
            let group = UInt32(input[offset]) << 16 | UInt32(input[offset + 1]) << 8 | UInt32(input[offset + 2])
            out += [alphabet[Int(group >> 18 & 63)], alphabet[Int(group >> 12 & 63)], alphabet[Int(group >> 6 & 63)], alphabet[Int(group & 63)]]
            offset += 3
        }
        let rem = input.count - offset
        if rem == 1 {
            let group = UInt32(input[offset]) << 16
            out += [alphabet[Int(group >> 18 & 63)], alphabet[Int(group >> 12 & 63)], 61, 61]
        } else if rem == 2 {
            let group = UInt32(input[offset]) << 16 | UInt32(input[offset + 1]) << 8
            out += [alphabet[Int(group >> 18 & 63)], alphabet[Int(group >> 12 & 63)], alphabet[Int(group >> 6 & 63)], 61]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes; whitespace is ignored, padding optional. Nil on invalid input.
    public static func decode(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        var acc: UInt32 = 0
        var bits = 0
        for byte in text.utf8 {
            let sextet: UInt32
            switch byte {
            case 65...90: sextet = UInt32(byte - 65)
            case 97...122: sextet = UInt32(byte - 71)
            case 48...57: sextet = UInt32(byte + 4)
            case 43, 45: sextet = 62
            case 47, 95: sextet = 63
            case 61, 10, 13, 32, 9: continue
            default: return nil
            }
            acc = acc << 6 | sextet
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(acc >> UInt32(bits) & 0xFF))
            }
        }
        return out
    }
}
