import Testing
import YAML

/// The plain-scalar resolution rules (Yams' default resolver, YAML 1.1), case by case.
@Suite struct ResolverTests {
    static let cases: [(String, YAML.Tag.Name)] = [
        ("yes", .bool), ("No", .bool), ("TRUE", .bool), ("off", .bool), ("On", .bool), ("tRUE", .str), ("y", .str),
        ("0", .int), ("-0", .int), ("+12", .int), ("1_000", .int), ("0b1010", .int), ("-0b1_0", .int), ("0o17", .int), ("017", .int),
        ("0x1F", .int), ("0xfF_0", .int), ("190:20:30", .int), ("1:5", .int), ("1:60", .str), ("0:30", .str),
        ("09", .float), ("1.5", .float), ("1e5", .float), ("1.", .float), ("-1.5e-3", .float), (".5", .float), (".5e+3", .float),
        (".inf", .float), ("-.Inf", .float), (".NaN", .float), ("-.nan", .str), ("190:20:30.15", .float), ("1e", .str),
        ("<<", .merge), ("~", .null), ("null", .null), ("Null", .null), ("nULL", .str), ("", .null), ("=", .value),
        ("2001-12-14", .timestamp), ("2001-12-14t21:59:43.10-05:00", .timestamp), ("2001-12-14 21:59:43.10 -5", .timestamp),
        ("2001-12-15T02:59:43.1Z", .timestamp), ("2002-12-14", .timestamp), ("2001-1-1", .str), ("2001-1-1 1:00:00", .timestamp),
        ("64500:100", .str), ("64500:10", .int), ("65535:65535", .str), ("192.0.2.1", .str), ("192.0.2.0/24", .str), ("10s", .str), ("0x", .str), ("abc", .str),
    ]

    @Test(arguments: cases)
    func plainScalarsResolveAsYAML11(_ text: String, _ tag: YAML.Tag.Name) {
        #expect(Node(text).tag.name == tag, "\(text)")
    }

    @Test func quotedScalarsAreStrings() throws {
        let node = try #require(try compose(yaml: "[\"1\", '2', 3]"))
        #expect(node.sequence?.map(\.tag.name) == [.str, .str, .int])
    }

    @Test func integersAndBooleansReadAsYAML11() {
        let integers: [(String, Int?)] = [("0x1F", 31), ("-0b11", -3), ("017", 15), ("0o17", 15), ("1_000", 1000), ("1:30", 90), ("-1:30", -90), ("99999999999999999999", nil)]
        for (text, value) in integers { #expect(Node(text).int == value, "\(text)") }
        #expect(Node("9:9999999999999999999:1").int == 541)  // an unreadable part is skipped, as in Yams
        #expect(Node("9999999999999999:0:0:0").int == nil)  // Yams trapped on the overflow
        #expect(Node("12", YAML.Tag(.str), .doubleQuoted).int == nil)
        for (text, value) in [("Yes", true), ("OFF", false), ("true", true), ("maybe", nil)] as [(String, Bool?)] {
            #expect(Node(text).bool == value, "\(text)")
        }
        #expect(Node("1:30.5").float == 90.5)
        #expect(Node("1_0.5").float == 10.5)
    }
}

@Suite struct ComposerTests {
    @Test func nodesCarryTheirPositionAndStyle() throws {
        let text = "a: 1\nb:\n  - x\n  - |\n    text\n"
        let root = try #require(try compose(yaml: text))
        #expect(root.mark == Mark(line: 1, column: 1))
        #expect(root["a"]?.mark == Mark(line: 1, column: 4))
        let list = try #require(root["b"]?.sequence)
        #expect(list.mark == Mark(line: 3, column: 3))
        #expect(list[1].scalar?.style == .literal)
        #expect(list[1].string == "text\n")
        #expect(list[1].mark == Mark(line: 4, column: 5))
    }

    @Test func anAliasIsTheAnchoredNode() throws {
        let root = try #require(try compose(yaml: "a: &x [1, 2]\nb: *x\n"))
        #expect(root["a"] == root["b"])
        #expect(root["b"]?.mark == Mark(line: 1, column: 4))
    }

    @Test func theLastOfRepeatedKeysIsFound() throws {
        let root = try #require(try compose(yaml: "a: 1\na: 2\n"))
        #expect(root["a"]?.int == 2)
        #expect(root.mapping?.count == 2)
    }

    @Test func errorsNameTheirPosition() {
        #expect(throws: YAMLError(stage: .parser, problem: "did not find expected ',' or ']'", mark: Mark(line: 2, column: 1))) {
            try compose(yaml: "[1, 2\n")
        }
        #expect(throws: YAMLError(stage: .composer, problem: "found undefined alias", mark: Mark(line: 1, column: 4))) {
            try compose(yaml: "a: *nope\n")
        }
        #expect(throws: YAMLError.self) { try compose(yaml: "a: 1\n---\nb: 2\n") }
        #expect(throws: YAMLError.self) { try composeAll(yaml: "a: 1\n---\nb: [\n") }
    }

    @Test func documentsAreReadInOrder() throws {
        let documents = try composeAll(yaml: "a: 1\n---\n---\nb: 2\n")
        #expect(documents.count == 3)
        #expect(documents[1].tag.name == .null)
        #expect(try composeAll(yaml: "").isEmpty)
        #expect(try compose(yaml: "") == nil)
    }
}

@Suite struct EmitterTests {
    @Test func blockOutputAsYams() throws {
        var literal = Node.Scalar("line 1\nline 2\n")
        literal.style = .literal
        let node = Node.mapping(.init([
            (Node("name"), Node("x")),
            (Node("list"), .sequence(.init([Node("1", YAML.Tag(.int)), Node("64500:100", YAML.Tag(.str), .doubleQuoted), Node("é")]))),
            (Node("empty"), .sequence(.init([]))),
            (Node("text"), .scalar(literal)),
        ]))
        #expect(try serialize(node: node, indent: 2, width: -1) == """
            name: x
            list:
            - 1
            - "64500:100"
            - "\\xE9"
            empty: []
            text: |
              line 1
              line 2

            """)
    }

    @Test func composeAndSerializeRoundTrip() throws {
        let text = "a:\n  b:\n  - c: 'quoted'\n    d: 2\n"
        let node = try #require(try compose(yaml: text))
        #expect(try serialize(node: node) == text)
    }
}

@Suite struct DecoderTests {
    struct Config: Decodable, Equatable {
        struct Item: Decodable, Equatable { var name: String; var on: Bool?; var count: Int? }
        var items: [Item]
        var title: String?
    }

    @Test func decodesAsYamsDid() throws {
        let config = try YAMLDecoder().decode(Config.self, from: "items:\n- name: 123\n  on: yes\n  count: 0x10\n- name: b\ntitle:\n")
        #expect(config == Config(items: [.init(name: "123", on: true, count: 16), .init(name: "b", on: nil, count: nil)], title: nil))
    }

    @Test func errorsCarryTheCodingPath() {
        do {
            _ = try YAMLDecoder().decode(Config.self, from: "items:\n- on: yes\n")
            Issue.record("decoded")
        } catch DecodingError.keyNotFound(let key, let context) {
            #expect(key.stringValue == "name")
            #expect(context.codingPath.map(\.stringValue) == ["items", "0"])
        } catch {
            Issue.record("\(error)")
        }
        #expect(throws: DecodingError.self) { try YAMLDecoder().decode(Config.self, from: "items: 1\n") }
    }
}
