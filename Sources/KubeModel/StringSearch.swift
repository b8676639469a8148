/// Substring search and replacement without Foundation, for selectors and JSON Pointers.
extension Substring {
    package func replacingOccurrences(_ a: String, _ b: String) -> String {
        String(self).replacingOccurrences(a, b)
    }
}

extension String {
    package func replacingOccurrences(_ a: String, _ b: String) -> String {
        guard !a.isEmpty, self.contains(a) else { return self }
        var out = ""
        var rest = Substring(self)
        while let r = rest.range(of: a) {
            out += rest[..<r.lowerBound]
            out += b
            rest = rest[r.upperBound...]
        }
        out += rest
        return out
    }
}

extension Substring {
    package func range(of needle: String) -> Range<Substring.Index>? {
        let n = Array(needle.utf8)
        var i = startIndex
        while i < endIndex {
            if self[i...].utf8.starts(with: n) {
                return i..<self.utf8.index(i, offsetBy: n.count)
            }
            i = index(after: i)
        }
        return nil
    }
}
