// Fuzz target for LinkWire's frame decoders and the responder (docs/fuzzing-l2.md).
//
// Built with -DFUZZING -sanitize=fuzzer it is a libFuzzer target; built normally it replays
// the files named on the command line (a corpus or crash reproducers) through the same checks.
// Any input must: decode or fail without moving the reader index; when it decodes, encode
// back to the same bytes (up to the two spellings of a zero checksum) and decode again to
// the same frame; and give a responder decision whose reply, if any, round-trips too.
import LinkWire
import NIOCore
import NetPrimitives

let interfaces = [
    ResponderInterface(name: "n0", mac: MACAddress("02:00:00:00:02:02")!),
    ResponderInterface(name: "n0", mac: MACAddress("02:00:00:00:02:02")!, vlanID: 100),
]
let owned: [IPAddress: Set<String>] = [
    IPAddress("192.0.2.20")!: ["n0"], IPAddress("2001:db8::20")!: ["n0"], IPAddress("2001:db8::21")!: ["n0"],
]

func sameFrame(_ encoded: [UInt8], _ input: [UInt8]) -> Bool {
    guard encoded.count == input.count else { return false }
    let differing = encoded.indices.filter { encoded[$0] != input[$0] }
    if differing.isEmpty { return true }
    guard differing.count == 2, differing[1] == differing[0] + 1 else { return false }
    return encoded[differing[0]] == 0 && encoded[differing[1]] == 0 && input[differing[0]] == 0xff && input[differing[1]] == 0xff
}

func check(_ bytes: [UInt8]) {
    var buffer = ByteBuffer(bytes: bytes)
    do {
        let frame = try buffer.readLinkFrame()
        precondition(buffer.readableBytes == 0, "a decoded frame left bytes behind")
        let encoded = frame.bytes
        precondition(sameFrame(encoded, bytes), "re-encoding changed the frame")
        precondition((try? LinkFrame(decoding: encoded)) == frame, "the re-encoded frame decodes differently")
    } catch {
        precondition(buffer.readableBytes == bytes.count, "a failed decode moved the reader index")
    }
    for interface in interfaces {
        if case .reply(let reply) = Responder.decide(ByteBuffer(bytes: bytes), arrivedOn: interface, owned: owned) {
            precondition((try? LinkFrame(decoding: reply.bytes)) == reply, "a reply does not round-trip")
        }
    }
}

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLinkWire(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    check(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// SwiftPM links an executable's entry point as `<module>_main`: hand control to libFuzzer.
@_cdecl("fuzz_linkwire_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return runFuzzerDriver(&argc, &argv) { data, size in fuzzLinkWire(data, size) }
}
#else
import Foundation

@main
struct ReplayLinkWire {
    static func main() throws {
        var files = 0
        for path in CommandLine.arguments.dropFirst() {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
            let paths = isDirectory.boolValue
                ? try FileManager.default.contentsOfDirectory(atPath: path).sorted().map { path + "/" + $0 }
                : [path]
            for file in paths {
                check(Array(try Data(contentsOf: URL(fileURLWithPath: file))))
                files += 1
            }
        }
        print("replayed \(files) inputs without a failure")
    }
}
#endif
