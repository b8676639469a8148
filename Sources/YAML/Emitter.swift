import CYAML

/// The text of one document, written by libyaml's emitter with Yams' settings (no tags on
/// scalars: a plain scalar that would read back as another type must be given a quoted style;
/// no Unicode escapes switched off: non-ASCII is escaped, as in Yams; `\n` line breaks).
/// `indent` below 2 means 2 and `width` 0 means 80, -1 unlimited (libyaml's rules).
public func serialize(node: Node, indent: Int = 0, width: Int = 0) throws(YAMLError) -> String {
    let emitter = Emitter(indent: indent, width: width)
    try emitter.emit { event in yaml_stream_start_event_initialize(event, YAML_UTF8_ENCODING) }
    try emitter.emit { event in yaml_document_start_event_initialize(event, nil, nil, nil, 1) }
    try emitter.serialize(node)
    try emitter.emit { event in yaml_document_end_event_initialize(event, 1) }
    try emitter.emit { event in yaml_stream_end_event_initialize(event) }
    return String(decoding: emitter.output.bytes, as: UTF8.self)
}

private final class Output {
    var bytes: [UInt8] = []
}

private final class Emitter {
    let emitter = UnsafeMutablePointer<yaml_emitter_t>.allocate(capacity: 1)
    let output = Output()

    init(indent: Int, width: Int) {
        yaml_emitter_initialize(emitter)
        yaml_emitter_set_output(emitter, { data, buffer, size in
            guard let data, let buffer else { return 0 }
            Unmanaged<Output>.fromOpaque(data).takeUnretainedValue().bytes.append(contentsOf: UnsafeBufferPointer(start: buffer, count: size))
            return 1
        }, Unmanaged.passUnretained(output).toOpaque())
        yaml_emitter_set_canonical(emitter, 0)
        yaml_emitter_set_indent(emitter, Int32(clamping: indent))
        yaml_emitter_set_width(emitter, Int32(clamping: width))
        yaml_emitter_set_unicode(emitter, 0)
        yaml_emitter_set_break(emitter, YAML_LN_BREAK)
        yaml_emitter_set_encoding(emitter, YAML_UTF8_ENCODING)
    }

    deinit {
        yaml_emitter_delete(emitter)
        emitter.deallocate()
    }

    /// Initialises an event with `initialize` and hands it to the emitter (which frees it).
    func emit(_ initialize: (UnsafeMutablePointer<yaml_event_t>) -> Int32) throws(YAMLError) {
        var event = yaml_event_t()
        guard initialize(&event) == 1 else { throw YAMLError(stage: .memory, problem: "out of memory") }
        guard yaml_emitter_emit(emitter, &event) == 1 else {
            let problem = emitter.pointee.problem.map { String(cString: $0) } ?? "unknown problem"
            throw YAMLError(stage: emitter.pointee.error == YAML_MEMORY_ERROR ? .memory : .emitter, problem: problem)
        }
    }

    func serialize(_ node: Node) throws(YAMLError) {
        switch node {
        case .scalar(let scalar):
            var value = Array(scalar.string.utf8)
            var tag = Array(scalar.resolvedTag.name.rawValue.utf8) + [0]
            let length = Int32(clamping: value.count)
            value.append(0)
            let style = yaml_scalar_style_t(rawValue: numericCast(scalar.style.rawValue))
            try emit { event in
                tag.withUnsafeMutableBufferPointer { tag in
                    value.withUnsafeMutableBufferPointer { value in
                        yaml_scalar_event_initialize(event, nil, tag.baseAddress, value.baseAddress, length, 1, 1, style)
                    }
                }
            }
        case .sequence(let sequence):
            var tag = Array(sequence.resolvedTag.name.rawValue.utf8) + [0]
            let implicit: Int32 = sequence.resolvedTag.name == .seq ? 1 : 0
            let style = yaml_sequence_style_t(rawValue: numericCast(sequence.style.rawValue))
            try emit { event in
                tag.withUnsafeMutableBufferPointer { yaml_sequence_start_event_initialize(event, nil, $0.baseAddress, implicit, style) }
            }
            for item in sequence { try serialize(item) }
            try emit { event in yaml_sequence_end_event_initialize(event) }
        case .mapping(let mapping):
            var tag = Array(mapping.resolvedTag.name.rawValue.utf8) + [0]
            let implicit: Int32 = mapping.resolvedTag.name == .map ? 1 : 0
            let style = yaml_mapping_style_t(rawValue: numericCast(mapping.style.rawValue))
            try emit { event in
                tag.withUnsafeMutableBufferPointer { yaml_mapping_start_event_initialize(event, nil, $0.baseAddress, implicit, style) }
            }
            for (key, value) in mapping {
                try serialize(key)
                try serialize(value)
            }
            try emit { event in yaml_mapping_end_event_initialize(event) }
        }
    }
}
