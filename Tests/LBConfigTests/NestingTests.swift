import Testing
@testable import LBConfig

/// Yams composes recursively: 20,000 levels of `[` overflowed the stack (signal 11) of
/// `ironlb config validate`, and would kill the controller and every speaker.
@Suite struct NestingTests {
    @Test(arguments: [
        ("address-pools: " + String(repeating: "[", count: 20_000) + String(repeating: "]", count: 20_000), "more than 64 levels of [ ] and { }"),
        ("address-pools:\n" + String(repeating: "- ", count: 100_000) + "x", "more than 200 columns of indentation and block indicators"),
        // Closing brackets inside quotes or comments do not hide the openings after them.
        ("a: \"" + String(repeating: "]", count: 100) + "\"\n# " + String(repeating: "}", count: 100) + "\nb: " + String(repeating: "[", count: 65), "more than 64 levels of [ ] and { }"),
        ("a: '" + String(repeating: "]", count: 100) + "''x'\nb: " + String(repeating: "{", count: 65), "more than 64 levels of [ ] and { }"),
    ])
    func deepNestingIsRefusedBeforeYams(_ text: String, _ message: String) {
        for result in [ConfigParser.parseConfigValue(text), ConfigParser.parse(text).map(\.configuration)] {
            guard case .failure(let errors) = result else {
                Issue.record("parsed")
                continue
            }
            #expect(errors.errors.count == 1 && errors.errors[0].message == "YAML nested too deeply: \(message)")
        }
    }

    @Test func bracketsInQuotedScalarsAndCommentsAreNotNesting() throws {
        let text = """
            # [ a comment with an opening bracket
            peers:
            - {peer-address: 192.0.2.1, peer-asn: 64501, my-asn: 64500, password: "[[[[x"}
            bfd-profiles: [{name: "it's"}, {name: 'its''s'}]
            address-pools: [{name: a, protocol: bgp, addresses: ['198.51.100.0/28']}]
            """
        let configuration = try ConfigParser.parseConfigValue(text).get()
        #expect(configuration.peers.first?.password == "[[[[x")
        #expect(configuration.bfdProfiles.map(\.name) == ["it's", "its's"])
        #expect(configuration.pools.map(\.name) == ["a"])
    }
}
