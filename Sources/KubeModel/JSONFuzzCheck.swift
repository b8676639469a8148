import NIOCore

/// The properties the Kubernetes JSON fuzzer (fuzz/Sources/FuzzKubeJSON, docs/fuzzing.md)
/// checks on every input, shared with the test suite that replays its corpus
/// (fuzz/corpus/kube-json).
public enum JSONFuzzCheck {
    /// The first property `bytes` breaks, or nil. Besides "no trap": the array and ByteBuffer
    /// entry points agree; an error has a code and an offset inside the input; a parsed value
    /// serializes to text that parses, and serializing that again gives the same bytes; the
    /// stream framer, fed the input in two pieces, returns frames no longer than the input.
    public static func violation(_ bytes: [UInt8]) -> String? {
        let fromArray = Result { () throws(JSONParseError) in try JSONValue.parse(bytes) }
        let fromBuffer = Result { () throws(JSONParseError) in try JSONValue.parse(buffer: ByteBuffer(bytes: bytes)) }
        guard fromArray == fromBuffer else { return "the array and ByteBuffer parsers disagree" }
        switch fromArray {
        case .failure(let error):
            guard !error.code.isEmpty else { return "an error without a code" }
            guard (0...bytes.count).contains(error.offset) else { return "error offset \(error.offset) outside \(bytes.count) bytes" }
        case .success(let value):
            let text = value.serializedBytes()
            guard let again = try? JSONValue.parse(text) else { return "the serialization does not parse" }
            guard again.serializedBytes() == text else { return "serializing twice differs" }
        }
        var framer = JSONStreamFramer(maxObjectSize: 1 << 16)
        let half = bytes.count / 2
        framer.append(bytes[..<half])
        framer.append(bytes[half...])
        for _ in 0...bytes.count {
            guard let frame = try? framer.next() else { break }
            guard frame.readableBytes <= bytes.count else { return "a frame longer than the input" }
        }
        return nil
    }
}
