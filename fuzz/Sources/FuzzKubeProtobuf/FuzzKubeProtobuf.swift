// libFuzzer entry point for KubeModel's protobuf reader and Kubernetes protobuf decoder
// (docs/fuzzing.md, "Kubernetes protobuf decoder").
//
// Each input is decoded three times: as a whole request body (`k8s\0` + runtime.Unknown), as the
// `raw` of a v1 Service envelope, and (after its first byte, which picks the kind) as the `raw`
// of one of the other generated kinds (Deployment, ConfigMap, Secret, Event, …), so that
// mutations reach every field table without having to rebuild the envelope. Besides "no trap, no sanitizer report" it checks that a field
// read that fails or needs more bytes leaves the buffer untouched, that every error has a code,
// and that a decoded object is a JSON object with its kind whose serialization parses back to it.
import FuzzSupport
import KubeModel
import KubeServerModel
import NIOCore

func envelope(raw: [UInt8], apiVersion: String = "v1", kind: String = "Service") -> [UInt8] {
    func varint(_ v: Int) -> [UInt8] {
        var v = UInt64(v), out: [UInt8] = []
        while v >= 0x80 {
            out.append(UInt8(v & 0x7f) | 0x80)
            v >>= 7
        }
        return out + [UInt8(v)]
    }
    let typeMeta: [UInt8] = [0x0a] + varint(apiVersion.utf8.count) + Array(apiVersion.utf8) + [0x12] + varint(kind.utf8.count) + Array(kind.utf8)
    return KubeProtobuf.magic + [0x0a] + varint(typeMeta.count) + typeMeta + [0x12] + varint(raw.count) + raw
}

func checkDecode(_ body: [UInt8]) {
    do {
        let object = try KubeProtobuf.decode(body: body)
        precondition(object["kind"]?.stringValue != nil, "a decoded object has no kind")
        precondition((try? JSONValue.parse(object.serializedBytes())) == object, "the decoded JSON does not parse back")
    } catch {
        precondition(!error.code.rawValue.isEmpty, "an error without a code")
    }
}

func checkFields(_ bytes: [UInt8]) {
    var buffer = ByteBuffer(bytes: bytes)
    while buffer.readableBytes > 0 {
        let before = buffer.readerIndex
        do {
            guard let field = try buffer.readProtobufField() else {
                precondition(buffer.readerIndex == before, "a short read moved the reader index")
                return
            }
            precondition(buffer.readerIndex > before, "a field consumed no bytes")
            _ = field
        } catch {
            precondition(buffer.readerIndex == before, "a failed read moved the reader index")
            return
        }
    }
}

func check(_ bytes: [UInt8]) {
    checkFields(bytes)
    checkDecode(bytes)
    checkDecode(envelope(raw: bytes))
    if let selector = bytes.first {
        let kinds = KubeProtobuf.supportedKinds
        let kind = kinds[Int(selector) % kinds.count]
        checkDecode(envelope(raw: Array(bytes.dropFirst()), apiVersion: kind.apiVersion, kind: kind.kind))
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzKubeProtobuf(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    check(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

@_cdecl("FuzzKubeProtobuf_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv) { data, size in fuzzKubeProtobuf(data, size) }
}
