import NetPrimitives

/// The properties the configuration fuzzer (fuzz/Sources/FuzzConfig, docs/fuzzing.md) checks
/// on every input, shared with the test suite that replays its corpus (fuzz/corpus/config).
public enum ConfigFuzzCheck {
    /// The first property `text` breaks, or nil. Besides "no trap": parsing is deterministic;
    /// a failure has between 1 and `maximumErrors` + 1 errors, each of bounded length; a
    /// success summarises, and holds no pool address in a special range and no overlap.
    public static func violation(_ text: String) -> String? {
        let first = ConfigParser.parse(text)
        guard first == ConfigParser.parse(text) else { return "parsing the same text twice differs" }
        if let problem = check(first.map(\.configuration)) { return "parse: \(problem)" }
        let value = ConfigParser.parseConfigValue(text)
        if let problem = check(value) { return "parseConfigValue: \(problem)" }
        return nil
    }

    private static func check(_ result: Result<Configuration, ConfigErrors>) -> String? {
        switch result {
        case .failure(let errors):
            guard !errors.errors.isEmpty else { return "a failure without errors" }
            guard errors.errors.count <= YAMLReader.maximumErrors + 1 else { return "\(errors.errors.count) errors reported" }
            if let long = errors.errors.first(where: { $0.description.count > 2 * YAMLReader.maximumMessageLength + 2 }) {
                return "an error of \(long.description.count) characters"
            }
            return nil
        case .success(let configuration):
            _ = configuration.summaryLines
            let blocks = configuration.pools.flatMap(\.addresses)
            for pool in configuration.pools where pool.addresses.isEmpty { return "pool \(pool.name) has no addresses" }
            for block in blocks {
                if let special = AddressBlock.specialRanges.first(where: { $0.range.overlaps(block.range) }) {
                    return "\(block) overlaps \(special.prefix)"
                }
            }
            let sorted = blocks.map(\.range).sorted()
            for (a, b) in zip(sorted, sorted.dropFirst()) where a.overlaps(b) { return "\(a) overlaps \(b)" }
            return nil
        }
    }
}
