/// Character classes of RFC 3261 §25.1 used by the auth header grammar.
enum AuthGrammar {
    static let maxNameLength = 64

    /// token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
    static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "!"), UInt8(ascii: "%"), UInt8(ascii: "*"),
             UInt8(ascii: "_"), UInt8(ascii: "+"), UInt8(ascii: "`"), UInt8(ascii: "'"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" (RFC 7235), for non-Digest schemes.
    static func isToken68Byte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "+"),
             UInt8(ascii: "/"):
            return true
        default:
            return false
        }
    }

    /// Bytes accepted in an unquoted parameter value. The grammar says token; we also take other visible
    /// ASCII that cannot be confused with the list syntax (seen from real clients: `uri=sip:a@b`, base64 nonces).
    static func isBareValueByte(_ b: UInt8) -> Bool {
        b > 0x20 && b < 0x7F && b != UInt8(ascii: ",") && b != UInt8(ascii: "\"") && b != UInt8(ascii: "\\")
    }

    static func isWSP(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 }

    static func isToken<S: StringProtocol>(_ s: S) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy(isTokenByte)
    }

    /// ASCII-only case-insensitive comparison (header grammar is ASCII; no locale rules).
    static func equalsIgnoringASCIICase<A: StringProtocol, B: StringProtocol>(_ a: A, _ b: B) -> Bool {
        // On contiguous bytes when both have them (native strings and substrings): no view stepping.
        if let r = a.utf8.withContiguousStorageIfAvailable({ x in
            b.utf8.withContiguousStorageIfAvailable { y -> Bool in
                guard x.count == y.count else { return false }
                for i in 0..<x.count where x[i] != y[i] && lowerASCII(x[i]) != lowerASCII(y[i]) { return false }
                return true
            }
        }), let r { return r }
        guard a.utf8.count == b.utf8.count else { return false }
        return zip(a.utf8, b.utf8).allSatisfy { lowerASCII($0) == lowerASCII($1) }
    }

    static func lowerASCII(_ b: UInt8) -> UInt8 {
        (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z")) ? b | 0x20 : b
    }

    /// `s` cut at each `delimiter` byte, empty pieces dropped (as `split(separator:)`). Compared as a byte,
    /// as the header parser reads it: `String.split` compares Characters and misses a delimiter followed by a
    /// combining mark. An ASCII byte always ends a scalar, so the pieces are valid Substrings.
    static func split<S: StringProtocol>(_ s: S, on delimiter: UInt8) -> [S.SubSequence] {
        s.utf8.split(separator: delimiter).map { s[$0.startIndex..<$0.endIndex] }
    }

    static func lowercasedASCII<S: StringProtocol>(_ s: S) -> String {
        // Parameter names nearly always arrive lower-case already: then no mapped copy.
        if !s.utf8.contains(where: { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) { return String(s) }
        return String(decoding: s.utf8.map(lowerASCII), as: UTF8.self)
    }

    /// Writes `value` as a quoted-string. Backslash and DQUOTE are escaped; CR, LF and other control
    /// characters except HTAB cannot be represented (RFC 3261 quoted-pair excludes CR/LF) and are dropped,
    /// so serialisation can never inject a header line.
    static func quoted(_ value: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(value.utf8.count + 2)
        appendQuoted(value, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    static func appendQuoted(_ value: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for b in value.utf8 {
            switch b {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                out.append(UInt8(ascii: "\\"))
                out.append(b)
            case 0x09:
                out.append(b)
            case 0x00..<0x20, 0x7F:
                continue
            default:
                out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// `sanitizedToken` appended to a byte buffer (serialisers build one buffer, not a string per piece).
    static func appendSanitizedToken(_ s: String, to out: inout [UInt8]) {
        for b in s.utf8 where isTokenByte(b) { out.append(b) }
    }

    /// Drops every byte that is not a token byte (used for names and tokens supplied by code, never input).
    static func sanitizedToken(_ s: String) -> String {
        if s.utf8.allSatisfy(isTokenByte) { return s }
        return String(decoding: s.utf8.filter(isTokenByte), as: UTF8.self)
    }
}

/// Byte scanner over one header value implementing the RFC 3261 §25.1 challenge/credentials grammar.
struct AuthScanner {
    let bytes: [UInt8]
    var index: Int = 0
    let limits: AuthParseLimits

    init(_ bytes: [UInt8], limits: AuthParseLimits) {
        self.bytes = bytes
        self.limits = limits
    }

    var atEnd: Bool { index >= bytes.count }
    var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    /// Skips LWS/SWS: spaces, tabs and folded line breaks (CRLF, or a lone LF, followed by SP/HTAB).
    /// A line break not followed by whitespace is not LWS and is an error. Returns whether anything was skipped.
    @discardableResult
    mutating func skipWhitespace() throws(AuthParseError) -> Bool {
        let start = index
        while index < bytes.count {
            let b = bytes[index]
            if AuthGrammar.isWSP(b) {
                index += 1
            } else if b == 0x0D || b == 0x0A {
                var j = index + 1
                if b == 0x0D {
                    guard j < bytes.count, bytes[j] == 0x0A else { throw .invalidCharacter }
                    j += 1
                }
                guard j < bytes.count, AuthGrammar.isWSP(bytes[j]) else {
                    // Trailing line break at the very end of the value: tolerate it as trailing whitespace.
                    if j >= bytes.count { index = j; continue }
                    throw .invalidCharacter
                }
                index = j
            } else {
                break
            }
        }
        return index > start
    }

    mutating func token(maxLength: Int) -> String? {
        let start = index
        while index < bytes.count, AuthGrammar.isTokenByte(bytes[index]) { index += 1 }
        guard index > start, index - start <= maxLength else { return nil }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    /// Parses a quoted-string starting at the opening DQUOTE and returns its unescaped content.
    /// Folded line breaks inside collapse to one SP.
    mutating func quotedString() throws(AuthParseError) -> String {
        guard current == UInt8(ascii: "\"") else { throw .invalidCharacter }
        index += 1
        // Usual case (nonce, realm, uri, response...): no quoted-pair and no folding before the closing
        // DQUOTE, so the content is the bytes as they stand.
        let start = index
        var end = start
        while end < bytes.count, end - start <= limits.maxValueLength {
            let b = bytes[end]
            if b == UInt8(ascii: "\"") {
                index = end + 1
                return String(decoding: bytes[start..<end], as: UTF8.self)
            }
            guard b == 0x09 || (b >= 0x20 && b != 0x7F && b != UInt8(ascii: "\\")) else { break }
            end += 1
        }
        var out: [UInt8] = []
        while index < bytes.count {
            let b = bytes[index]
            switch b {
            case UInt8(ascii: "\""):
                index += 1
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard index + 1 < bytes.count else { throw .unterminatedQuotedString }
                let e = bytes[index + 1]
                // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F); NUL and other controls refused as well.
                guard e == 0x09 || (e >= 0x20 && e < 0x7F) else { throw .invalidCharacter }
                out.append(e)
                index += 2
            case 0x0D, 0x0A:
                var j = index + 1
                if b == 0x0D {
                    guard j < bytes.count, bytes[j] == 0x0A else { throw .invalidCharacter }
                    j += 1
                }
                guard j < bytes.count, AuthGrammar.isWSP(bytes[j]) else { throw .invalidCharacter }
                while j < bytes.count, AuthGrammar.isWSP(bytes[j]) { j += 1 }
                out.append(0x20)
                index = j
            case 0x09, 0x20...0x7E, 0x80...0xFF:
                out.append(b)
                index += 1
            default:
                throw .invalidCharacter
            }
            if out.count > limits.maxValueLength { throw .valueTooLong }
        }
        throw .unterminatedQuotedString
    }

    mutating func bareValue() throws(AuthParseError) -> String {
        let start = index
        while index < bytes.count, AuthGrammar.isBareValueByte(bytes[index]) { index += 1 }
        guard index > start else {
            if let b = current, b != UInt8(ascii: ","), !AuthGrammar.isWSP(b), b != 0x0D, b != 0x0A {
                throw .invalidCharacter
            }
            throw .missingValue
        }
        guard index - start <= limits.maxValueLength else { throw .valueTooLong }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    /// If the rest of the input is a token68 (optionally followed by whitespace), consumes and returns it.
    mutating func token68ToEnd() throws(AuthParseError) -> String? {
        let start = index
        var j = index
        while j < bytes.count, AuthGrammar.isToken68Byte(bytes[j]) { j += 1 }
        guard j > start else { return nil }
        while j < bytes.count, bytes[j] == UInt8(ascii: "=") { j += 1 }
        let end = j
        index = j
        try skipWhitespace()
        guard atEnd else {
            index = start
            return nil
        }
        guard end - start <= limits.maxValueLength else { throw .valueTooLong }
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }
}
