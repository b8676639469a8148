/// Substring search and replacement without Foundation, for selectors and JSON Pointers.
extension Substring {
    package func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        String(self).replacingOccurrences(target, replacement)
    }
}

extension String {
    package func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        guard !target.isEmpty, self.contains(target) else { return self }
        var out = ""
        var rest = Substring(self)
        while let match = rest.range(of: target) {
            out += rest[..<match.lowerBound]
            out += replacement
            rest = rest[match.upperBound...]
        }
        out += rest
        return out
    }
}

extension Substring {
    package func range(of needle: String) -> Range<Substring.Index>? {
        let needleBytes = Array(needle.utf8)
        var position = startIndex
        while position < endIndex {
            if self[position...].utf8.starts(with: needleBytes) {
                return position..<self.utf8.index(position, offsetBy: needleBytes.count)
            }
            position = index(after: position)
        }
        return nil
    }
}
