/// Decodes `Decodable` values from one YAML document, reading scalars as Yams' `YAMLDecoder`
/// does: a string from any scalar, numbers from plain scalars by the YAML 1.1 rules, booleans
/// from `true`/`yes`/`on` and their opposites. Errors are `DecodingError`s with the coding path,
/// or the `YAMLError` of the text.
public struct YAMLDecoder {
    public init() {}

    public func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        let node = try compose(yaml: text) ?? Node("", Tag(.null))
        return try T(from: NodeDecoder(node: node, codingPath: []))
    }
}

private struct NodeDecoder: Decoder {
    let node: Node
    let codingPath: [CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .mapping(let mapping) = node else { throw mismatch([String: Any].self) }
        return KeyedDecodingContainer(KeyedContainer<Key>(mapping: mapping, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> UnkeyedDecodingContainer {
        guard case .sequence(let sequence) = node else { throw mismatch([Any].self) }
        return UnkeyedContainer(items: Array(sequence), codingPath: codingPath)
    }

    func singleValueContainer() throws -> SingleValueDecodingContainer { SingleValue(node: node, codingPath: codingPath) }

    func mismatch(_ type: Any.Type) -> DecodingError {
        DecodingError.typeMismatch(type, .init(codingPath: codingPath, debugDescription: "expected \(type), found \(node.tag)"))
    }
}

/// One value: the leaves (strings, numbers, booleans) and anything `Decodable` below them.
private struct SingleValue: SingleValueDecodingContainer {
    let node: Node
    let codingPath: [CodingKey]

    func decodeNil() -> Bool { node.tag.name == .null }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let found: Any?
        switch type {
        case is String.Type: found = node.string
        case is Bool.Type: found = node.bool
        case is Int.Type: found = node.int
        case is Double.Type: found = node.float
        case is Int64.Type: found = node.int.map { Int64($0) }
        case is UInt32.Type: found = node.int.flatMap(UInt32.init(exactly:))
        case is UInt16.Type: found = node.int.flatMap(UInt16.init(exactly:))
        case is UInt8.Type: found = node.int.flatMap(UInt8.init(exactly:))
        case is Int32.Type: found = node.int.flatMap(Int32.init(exactly:))
        case is UInt.Type: found = node.int.flatMap(UInt.init(exactly:))
        case is UInt64.Type: found = node.int.flatMap(UInt64.init(exactly:))
        default: return try T(from: NodeDecoder(node: node, codingPath: codingPath))
        }
        guard let value = found as? T else {
            throw DecodingError.typeMismatch(type, .init(codingPath: codingPath, debugDescription: "expected \(type), found \(node.tag)"))
        }
        return value
    }
}

private struct Key: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue }
    init(intValue: Int) {
        self.stringValue = "\(intValue)"
        self.intValue = intValue
    }
}

private struct KeyedContainer<K: CodingKey>: KeyedDecodingContainerProtocol {
    let mapping: Node.Mapping
    let codingPath: [CodingKey]

    var allKeys: [K] { mapping.keys.compactMap { $0.string.flatMap(K.init(stringValue:)) } }

    func contains(_ key: K) -> Bool { mapping[key.stringValue] != nil }

    private func value(_ key: K) throws -> Node {
        guard let node = mapping[key.stringValue] else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "no value for \(key.stringValue)"))
        }
        return node
    }

    func decodeNil(forKey key: K) throws -> Bool { try value(key).tag.name == .null }

    func decode<T: Decodable>(_ type: T.Type, forKey key: K) throws -> T {
        try SingleValue(node: try value(key), codingPath: codingPath + [key]).decode(type)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: K) throws -> KeyedDecodingContainer<NestedKey> {
        try NodeDecoder(node: try value(key), codingPath: codingPath + [key]).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: K) throws -> UnkeyedDecodingContainer {
        try NodeDecoder(node: try value(key), codingPath: codingPath + [key]).unkeyedContainer()
    }

    func superDecoder() throws -> Decoder { NodeDecoder(node: .mapping(mapping), codingPath: codingPath) }

    func superDecoder(forKey key: K) throws -> Decoder { NodeDecoder(node: try value(key), codingPath: codingPath + [key]) }
}

private struct UnkeyedContainer: UnkeyedDecodingContainer {
    let items: [Node]
    let codingPath: [CodingKey]
    var currentIndex = 0

    init(items: [Node], codingPath: [CodingKey]) {
        self.items = items
        self.codingPath = codingPath
    }

    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    private mutating func next(_ type: Any.Type) throws -> (Node, [CodingKey]) {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(type, .init(codingPath: codingPath + [Key(intValue: currentIndex)], debugDescription: "the list has \(items.count) items"))
        }
        defer { currentIndex += 1 }
        return (items[currentIndex], codingPath + [Key(intValue: currentIndex)])
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, items[currentIndex].tag.name == .null else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let (node, path) = try next(type)
        return try SingleValue(node: node, codingPath: path).decode(type)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        let (node, path) = try next([String: Any].self)
        return try NodeDecoder(node: node, codingPath: path).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> UnkeyedDecodingContainer {
        let (node, path) = try next([Any].self)
        return try NodeDecoder(node: node, codingPath: path).unkeyedContainer()
    }

    mutating func superDecoder() throws -> Decoder {
        let (node, path) = try next(Any.self)
        return NodeDecoder(node: node, codingPath: path)
    }
}
