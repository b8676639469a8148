import CYAML

/// The node of a text holding exactly one document; nil for an empty text. A second document
/// is an error.
public func compose(yaml text: String) throws(YAMLError) -> Node? {
    let composer = Composer(text)
    guard let first = try composer.nextDocument() else { return nil }
    if let second = try composer.nextDocument() {
        throw YAMLError(stage: .composer, problem: "expected a single document in the stream but found another document", mark: second.mark)
    }
    return first
}

/// The node of every document in a text, in order; the first error stops the reading.
public func composeAll(yaml text: String) throws(YAMLError) -> [Node] {
    let composer = Composer(text)
    var documents: [Node] = []
    while let document = try composer.nextDocument() { documents.append(document) }
    return documents
}

/// libyaml's event parser, building nodes as Yams does: aliases are the anchored node itself
/// (same position), anchors are remembered across the documents of one text, quoted scalars
/// are strings and plain ones are resolved from their text.
private final class Composer {
    private let bytes: UnsafeMutableBufferPointer<UInt8>
    private let parser: UnsafeMutablePointer<yaml_parser_t>
    private var anchors: [String: Node] = [:]
    private var started = false
    private var ended = false

    init(_ text: String) {
        bytes = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(1, text.utf8.count))
        _ = bytes.initialize(from: text.utf8)
        parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
        yaml_parser_initialize(parser)
        yaml_parser_set_encoding(parser, YAML_UTF8_ENCODING)
        yaml_parser_set_input_string(parser, bytes.baseAddress, text.utf8.count)
    }

    deinit {
        yaml_parser_delete(parser)
        parser.deallocate()
        bytes.deallocate()
    }

    func nextDocument() throws(YAMLError) -> Node? {
        if ended { return nil }
        if !started {
            started = true
            _ = try next()  // STREAM-START
        }
        let start = try next()  // DOCUMENT-START or STREAM-END
        guard start.type != YAML_STREAM_END_EVENT else {
            ended = true
            return nil
        }
        let node = try node(from: try next())
        _ = try next()  // DOCUMENT-END
        return node
    }

    private func next() throws(YAMLError) -> Event {
        let event = Event()
        guard yaml_parser_parse(parser, event.event) == 1 else { throw error() }
        return event
    }

    private func node(from event: Event) throws(YAMLError) -> Node {
        switch event.type {
        case YAML_ALIAS_EVENT:
            let name = string(event.event.pointee.data.alias.anchor) ?? ""
            guard let node = anchors[name] else {
                throw YAMLError(stage: .composer, problem: "found undefined alias", mark: event.mark)
            }
            return node
        case YAML_SCALAR_EVENT:
            let data = event.event.pointee.data.scalar
            let value = String(decoding: UnsafeBufferPointer(start: data.value, count: data.length), as: UTF8.self)
            let tag: Tag = data.quoted_implicit == 1 ? Tag(.str) : Tag(Tag.Name(rawValue: string(data.tag) ?? ""))
            let style = Node.Scalar.Style(rawValue: UInt32(data.style.rawValue)) ?? .any
            let node = Node.scalar(Node.Scalar(value, tag, style, event.mark))
            if let anchor = string(data.anchor) { anchors[anchor] = node }
            return node
        case YAML_SEQUENCE_START_EVENT:
            let data = event.event.pointee.data.sequence_start
            let anchor = string(data.anchor)
            let tag = Tag(Tag.Name(rawValue: data.implicit != 0 ? "" : string(data.tag) ?? ""))
            var items: [Node] = []
            var item = try next()
            while item.type != YAML_SEQUENCE_END_EVENT {
                items.append(try node(from: item))
                item = try next()
            }
            // Yams reads the style from the end event, which has none: always "any".
            let node = Node.sequence(Node.Sequence(items, tag, .any, event.mark))
            if let anchor { anchors[anchor] = node }
            return node
        case YAML_MAPPING_START_EVENT:
            let data = event.event.pointee.data.mapping_start
            let anchor = string(data.anchor)
            let tag = Tag(Tag.Name(rawValue: data.implicit != 0 ? "" : string(data.tag) ?? ""))
            var pairs: [(Node, Node)] = []
            var key = try next()
            while key.type != YAML_MAPPING_END_EVENT {
                let keyNode = try node(from: key)
                let valueNode = try node(from: try next())
                pairs.append((keyNode, valueNode))
                key = try next()
            }
            let node = Node.mapping(Node.Mapping(pairs, tag, .any, event.mark))
            if let anchor { anchors[anchor] = node }
            return node
        default:
            throw YAMLError(stage: .composer, problem: "unexpected event \(event.type.rawValue)", mark: event.mark)
        }
    }

    private func error() -> YAMLError {
        let state = parser.pointee
        let problem = state.problem.map { String(cString: $0) } ?? "unknown problem"
        let mark = Mark(line: Int(state.problem_mark.line) + 1, column: Int(state.problem_mark.column) + 1)
        switch state.error {
        case YAML_MEMORY_ERROR: return YAMLError(stage: .memory, problem: "out of memory")
        case YAML_READER_ERROR: return YAMLError(stage: .reader, problem: problem, offset: Int(state.problem_offset))
        case YAML_SCANNER_ERROR: return YAMLError(stage: .scanner, problem: problem, mark: mark)
        case YAML_PARSER_ERROR: return YAMLError(stage: .parser, problem: problem, mark: mark)
        default: return YAMLError(stage: .composer, problem: problem, mark: mark)
        }
    }
}

private final class Event {
    let event = UnsafeMutablePointer<yaml_event_t>.allocate(capacity: 1)
    init() { event.initialize(to: yaml_event_t()) }
    deinit {
        yaml_event_delete(event)
        event.deallocate()
    }
    var type: yaml_event_type_t { event.pointee.type }
    var mark: Mark { Mark(line: Int(event.pointee.start_mark.line) + 1, column: Int(event.pointee.start_mark.column) + 1) }
}

private func string(_ pointer: UnsafeMutablePointer<UInt8>?) -> String? {
    guard let pointer else { return nil }
    var length = 0
    while pointer[length] != 0 { length += 1 }
    return String(decoding: UnsafeBufferPointer(start: pointer, count: length), as: UTF8.self)
}
