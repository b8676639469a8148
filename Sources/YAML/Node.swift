// YAML: YAML text as a node tree and back, over Debian's libyaml (the C library Yams vendors),
// without Foundation. See docs/design/yaml.md.
//
// A `Node` is a scalar, a mapping or a sequence, each with its tag, style and start position.
// Plain scalars resolve to YAML 1.1 types by the same rules as Yams' default resolver
// (`Resolver.swift`); `compose` reads text (`Composer.swift`), `serialize` writes it
// (`Emitter.swift`), `YAMLDecoder` decodes `Decodable` values.

/// Where a node starts in the text: 1-based line, and column counted in Unicode scalars.
public struct Mark: Hashable, Sendable, CustomStringConvertible {
    public let line: Int
    public let column: Int
    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }
    public var description: String { "\(line):\(column)" }
}

/// A node's tag: `tag:yaml.org,2002:str`, ...; `.implicit` until resolved.
public struct Tag: Hashable, Sendable, CustomStringConvertible {
    public struct Name: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public init(stringLiteral value: String) { self.rawValue = value }

        public static let implicit: Name = ""
        public static let nonSpecific: Name = "!"
        public static let str: Name = "tag:yaml.org,2002:str"
        public static let seq: Name = "tag:yaml.org,2002:seq"
        public static let map: Name = "tag:yaml.org,2002:map"
        public static let bool: Name = "tag:yaml.org,2002:bool"
        public static let float: Name = "tag:yaml.org,2002:float"
        public static let null: Name = "tag:yaml.org,2002:null"
        public static let int: Name = "tag:yaml.org,2002:int"
        public static let merge: Name = "tag:yaml.org,2002:merge"
        public static let timestamp: Name = "tag:yaml.org,2002:timestamp"
        public static let value: Name = "tag:yaml.org,2002:value"
    }

    public var name: Name
    public init(_ name: Name) { self.name = name }
    public static var implicit: Tag { Tag(.implicit) }
    public var description: String { name.rawValue }
}

public enum Node: Hashable, Sendable {
    case scalar(Scalar)
    case mapping(Mapping)
    case sequence(Sequence)

    public struct Scalar: Hashable, Sendable {
        public enum Style: UInt32, Sendable {
            case any = 0
            case plain
            case singleQuoted
            case doubleQuoted
            case literal
            case folded
        }

        public var string: String
        public var tag: Tag
        public var style: Style
        public var mark: Mark?

        public init(_ string: String, _ tag: Tag = .implicit, _ style: Style = .any, _ mark: Mark? = nil) {
            self.string = string
            self.tag = tag
            self.style = style
            self.mark = mark
        }

        /// The tag with an implicit one resolved from the text (Yams' default rules).
        public var resolvedTag: Tag {
            switch tag.name {
            case .implicit: return Tag(Resolver.resolve(string))
            case .nonSpecific: return Tag(.str)
            default: return tag
            }
        }

        public static func == (lhs: Scalar, rhs: Scalar) -> Bool {
            lhs.string == rhs.string && lhs.resolvedTag == rhs.resolvedTag
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(string)
            hasher.combine(resolvedTag)
        }
    }

    public struct Mapping: Hashable, Sendable, RandomAccessCollection {
        public enum Style: UInt32, Sendable {
            case any
            case block
            case flow
        }

        public typealias Element = (key: Node, value: Node)
        private var keysInOrder: [Node]
        private var valuesInOrder: [Node]
        public var tag: Tag
        public var style: Style
        public var mark: Mark?

        public init(_ pairs: [(Node, Node)], _ tag: Tag = .implicit, _ style: Style = .any, _ mark: Mark? = nil) {
            keysInOrder = pairs.map(\.0)
            valuesInOrder = pairs.map(\.1)
            self.tag = tag
            self.style = style
            self.mark = mark
        }

        public var resolvedTag: Tag {
            tag.name == .implicit || tag.name == .nonSpecific ? Tag(.map) : tag
        }

        public var startIndex: Int { 0 }
        public var endIndex: Int { keysInOrder.count }
        public subscript(position: Int) -> Element { (keysInOrder[position], valuesInOrder[position]) }

        public var keys: [Node] { keysInOrder }
        public var values: [Node] { valuesInOrder }

        /// The value of the last entry whose key equals `key` (as Yams does).
        public subscript(key: Node) -> Node? {
            guard let index = keysInOrder.lastIndex(of: key) else { return nil }
            return valuesInOrder[index]
        }

        public subscript(key: String) -> Node? { self[Node(key)] }

        public static func == (lhs: Mapping, rhs: Mapping) -> Bool {
            lhs.keysInOrder == rhs.keysInOrder && lhs.valuesInOrder == rhs.valuesInOrder && lhs.resolvedTag == rhs.resolvedTag
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(keysInOrder)
            hasher.combine(valuesInOrder)
            hasher.combine(resolvedTag)
        }
    }

    public struct Sequence: Hashable, Sendable, RandomAccessCollection {
        public enum Style: UInt32, Sendable {
            case any
            case block
            case flow
        }

        private var nodes: [Node]
        public var tag: Tag
        public var style: Style
        public var mark: Mark?

        public init(_ nodes: [Node], _ tag: Tag = .implicit, _ style: Style = .any, _ mark: Mark? = nil) {
            self.nodes = nodes
            self.tag = tag
            self.style = style
            self.mark = mark
        }

        public var resolvedTag: Tag {
            tag.name == .implicit || tag.name == .nonSpecific ? Tag(.seq) : tag
        }

        public var startIndex: Int { 0 }
        public var endIndex: Int { nodes.count }
        public subscript(position: Int) -> Node { nodes[position] }

        public static func == (lhs: Sequence, rhs: Sequence) -> Bool {
            lhs.nodes == rhs.nodes && lhs.resolvedTag == rhs.resolvedTag
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(nodes)
            hasher.combine(resolvedTag)
        }
    }
}

extension Node {
    public init(_ string: String, _ tag: Tag = .implicit, _ style: Scalar.Style = .any) {
        self = .scalar(Scalar(string, tag, style))
    }

    /// The resolved tag.
    public var tag: Tag {
        switch self {
        case .scalar(let scalar): return scalar.resolvedTag
        case .mapping(let mapping): return mapping.resolvedTag
        case .sequence(let sequence): return sequence.resolvedTag
        }
    }

    public var mark: Mark? {
        switch self {
        case .scalar(let scalar): return scalar.mark
        case .mapping(let mapping): return mapping.mark
        case .sequence(let sequence): return sequence.mark
        }
    }

    public var scalar: Scalar? {
        if case .scalar(let scalar) = self { return scalar }
        return nil
    }

    public var mapping: Mapping? {
        if case .mapping(let mapping) = self { return mapping }
        return nil
    }

    public var sequence: Sequence? {
        if case .sequence(let sequence) = self { return sequence }
        return nil
    }

    /// A scalar's text, whatever its tag.
    public var string: String? { scalar?.string }
    /// A scalar read as YAML 1.1 reads a boolean (`true`, `yes`, `on`, any case), whatever its tag.
    public var bool: Bool? { scalar.flatMap(Resolver.bool) }
    /// A plain scalar read as YAML 1.1 reads an integer (`0x`, `0o`, `0b`, `_`, base 60), whatever its tag.
    public var int: Int? { scalar.flatMap(Resolver.int) }
    /// A plain scalar read as a YAML 1.1 float.
    public var float: Double? { scalar.flatMap(Resolver.float) }

    /// A mapping's value for a plain key.
    public subscript(key: String) -> Node? {
        if case .mapping(let mapping) = self { return mapping[key] }
        return nil
    }
}
