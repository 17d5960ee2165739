/// One `key=value` after trimming and quote removal.
struct Assignment: Sendable, Equatable {
    var key: String
    var value: String
}

extension CWConfig {
    /// Splits text into `(lineNumber, line)` pairs, 1-based. Handles LF, CRLF and a leading BOM.
    static func lines(of text: String) -> [(Int, Substring)] {
        var text = Substring(text)
        if text.unicodeScalars.first == "\u{FEFF}" { text = Substring(text.unicodeScalars.dropFirst()) }
        // "\r\n" is a single Character, so splitting on isNewline counts it as one line end.
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        return lines.enumerated().map { ($0.offset + 1, $0.element) }
    }

    /// A file line: nil for blank lines and `#` comment lines, otherwise an assignment.
    static func parseLine(_ line: Substring, source: ConfigSource) throws(ConfigError) -> Assignment? {
        let trimmed = trim(line)
        if trimmed.isEmpty || trimmed.hasPrefix("#") { return nil }
        return try parseAssignment(line, source: source)
    }

    /// `key=value`: splits at the first `=`, trims both sides, removes one pair of surrounding quotes.
    static func parseAssignment(_ text: Substring, source: ConfigSource) throws(ConfigError) -> Assignment {
        guard let eq = text.firstIndex(of: "=") else {
            throw ConfigError(source: source, key: nil, kind: .malformedLine(text: trim(text)))
        }
        let key = trim(text[..<eq])
        guard !key.isEmpty else {
            throw ConfigError(source: source, key: nil, kind: .emptyKey)
        }
        var value = trim(text[text.index(after: eq)...])
        if value.hasPrefix("\"") {
            guard value.count >= 2, value.hasSuffix("\"") else {
                throw ConfigError(source: source, key: key,
                                  kind: .invalidValue(reason: "\(quoted(value)) has an unterminated double quote"))
            }
            value = String(value.dropFirst().dropLast())
        }
        if value.unicodeScalars.contains(where: { ($0.value < 0x20 && $0 != "\t") || $0.value == 0x7F }) {
            throw ConfigError(source: source, key: key,
                              kind: .invalidValue(reason: "\(quoted(value)) contains a control character"))
        }
        return Assignment(key: key, value: value)
    }

    /// Nearest known key within edit distance 2, for "did you mean" hints.
    static func suggestion(for unknown: String) -> String? {
        let lowered = unknown.lowercased()
        if keysByName[lowered] != nil { return lowered }
        var best: (distance: Int, name: String)?
        for key in keys {
            let d = editDistance(Array(lowered.utf8), Array(key.name.utf8))
            if d <= 2, best == nil || d < best!.distance { best = (d, key.name) }
        }
        return best?.name
    }
}

/// Trims spaces and tabs (and a stray CR) from both ends.
func trim(_ s: Substring) -> String {
    let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
    guard let start = s.firstIndex(where: { !isBlank($0) }) else { return "" }
    let end = s.lastIndex(where: { !isBlank($0) })!
    return String(s[start...end])
}

private func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            current[j] = Swift.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}
