/// Splitting and trimming of header text on UTF-8 bytes, for code that cuts a value at a delimiter outside
/// the parser (`;` before Content-Type / Event / Session-Expires parameters, `,` in feature value lists, `=`).
///
/// RFC 3261 §25's delimiters (SEMI, COMMA, EQUAL, COLON) are single ASCII bytes, and the parser reads
/// them as bytes. `String.split(separator:)` compares Characters instead: a delimiter followed by a
/// combining mark (",\u{0301}") is one grapheme cluster there and is not seen, so hostile text would be
/// cut differently from how the parser reads it. These cut at byte offsets: an ASCII byte always starts
/// and ends a Unicode scalar, so the pieces are valid Substrings even inside a grapheme cluster.
public enum ByteSplitter {
    /// `value.split(separator:maxSplits:omittingEmptySubsequences:)` with the separator compared as a byte.
    public static func split<S: StringProtocol>(_ value: S, on delimiter: UInt8, maxSplits: Int = Int.max,
                                                omittingEmptySubsequences: Bool = true) -> [Substring]
    where S.SubSequence == Substring {
        // The standard split over the UTF-8 view (same maxSplits / empty-piece rules), pieces mapped back
        // to the text by their indices.
        value.utf8.split(separator: delimiter, maxSplits: maxSplits, omittingEmptySubsequences: omittingEmptySubsequences)
            .map { value[$0.startIndex..<$0.endIndex] }
    }

    /// The text with SP and HTAB (RFC 3261 §25 WSP) removed from both ends, compared as bytes: a space
    /// followed by a combining mark is still a space.
    public static func trimmingWSP(_ s: Substring) -> Substring {
        let u = s.utf8
        var lo = u.startIndex, hi = u.endIndex
        while lo < hi, SIPGrammar.isWSP(u[lo]) { u.formIndex(after: &lo) }
        while hi > lo, SIPGrammar.isWSP(u[u.index(before: hi)]) { u.formIndex(before: &hi) }
        return s[lo..<hi]
    }
}
