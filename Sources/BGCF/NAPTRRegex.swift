import Foundation

/// A NAPTR-style substitution expression (RFC 3402 §3.2): `<delim>pattern<delim>replacement<delim>[i]`.
///
/// - The delimiter is the first character; it may be any character but a digit, `\` or `i`. Inside the pattern and
///   the replacement, `\<delim>` stands for the delimiter itself.
/// - The pattern is an ICU regular expression (NSRegularExpression); the flag `i` makes it case-insensitive.
/// - In the replacement, `\1`…`\9` are back-references to capture groups, `\x` for any other character is a literal
///   `x` (so `\\` is a backslash), and everything else, `$` included, is literal.
/// - Applying it to a string: the first match's replacement is the whole result (characters outside the match are
///   not copied); nil when the pattern does not match.
public struct NAPTRRegex: Sendable, CustomStringConvertible {
    /// The expression as written.
    public let source: String
    public let pattern: String
    /// The replacement as written (with `\<delim>` resolved).
    public let replacement: String
    public let caseInsensitive: Bool
    let regex: NSRegularExpression
    /// The replacement translated to an NSRegularExpression template (`\1` → `$1`, `$` → `\$`).
    let template: String

    /// Why an expression is unusable (the message only; callers add file and entry).
    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    public init(_ source: String) throws(ParseError) {
        self.source = source
        let shape = ParseError(message: "not of the form !pattern!replacement! (got \"\(source)\")")
        guard let delimiter = source.first, delimiter != "\\", delimiter != "i", !delimiter.isNumber,
              !delimiter.isWhitespace else { throw shape }
        // Split the rest on unescaped delimiters.
        var parts: [String] = [""]
        var i = source.index(after: source.startIndex)
        while i < source.endIndex {
            let c = source[i]
            let next = source.index(after: i)
            if c == "\\", next < source.endIndex {
                let escaped = source[next]
                if escaped == delimiter {
                    parts[parts.count - 1].append(delimiter)
                } else {
                    parts[parts.count - 1].append(c)
                    parts[parts.count - 1].append(escaped)
                }
                i = source.index(after: next)
                continue
            }
            if c == delimiter { parts.append("") } else { parts[parts.count - 1].append(c) }
            i = next
        }
        guard parts.count == 3 else { throw shape }
        pattern = parts[0]
        replacement = parts[1]
        let flags = parts[2]
        guard flags.isEmpty || flags == "i" else {
            throw ParseError(message: "unknown flags \"\(flags)\" after the replacement (only \"i\" is allowed)")
        }
        caseInsensitive = flags == "i"
        guard !pattern.isEmpty else { throw ParseError(message: "empty pattern") }
        do {
            regex = try NSRegularExpression(pattern: pattern, options: caseInsensitive ? [.caseInsensitive] : [])
        } catch {
            throw ParseError(message: "invalid regular expression \"\(pattern)\"")
        }
        let (template, highest) = try Self.translate(replacement: replacement)
        guard highest <= regex.numberOfCaptureGroups else {
            let groups = regex.numberOfCaptureGroups
            throw ParseError(message: "back-reference \\\(highest) but the pattern has \(groups) capture group"
                             + (groups == 1 ? "" : "s"))
        }
        self.template = template
    }

    /// The NSRegularExpression template for a NAPTR replacement, and the highest back-reference it uses.
    static func translate(replacement: String) throws(ParseError) -> (String, Int) {
        var template = ""
        var highest = 0
        var i = replacement.startIndex
        while i < replacement.endIndex {
            let c = replacement[i]
            i = replacement.index(after: i)
            switch c {
            case "\\":
                guard i < replacement.endIndex else {
                    throw ParseError(message: "replacement ends with a lone backslash")
                }
                let e = replacement[i]
                i = replacement.index(after: i)
                if let d = e.wholeNumberValue, e.isASCII, d >= 1 {
                    template += "$\(d)"
                    highest = max(highest, d)
                } else {
                    template += NSRegularExpression.escapedTemplate(for: String(e))
                }
            case "$":
                template += "\\$"
            default:
                template.append(c)
            }
        }
        return (template, highest)
    }

    /// The substitution result for `input`, nil when the pattern does not match.
    public func apply(to input: String) -> String? {
        let range = NSRange(location: 0, length: (input as NSString).length)
        guard let match = regex.firstMatch(in: input, options: [], range: range) else { return nil }
        return regex.replacementString(for: match, in: input, offset: 0, template: template)
    }

    public var description: String { source }
}
