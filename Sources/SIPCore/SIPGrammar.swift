// Byte-level building blocks of the RFC 3261 §25 grammar, shared by the message parser and the typed views.
// Everything here works on bytes and never traps on input: every index is checked against the bounds.

/// A set of ASCII bytes as a 128-bit table (bytes >= 0x80 are never members).
struct ByteSet: Sendable {
    private var lo: UInt64 = 0
    private var hi: UInt64 = 0

    init(_ chars: String = "", alphanumeric: Bool = false, hex: Bool = false, digits: Bool = false) {
        for b in chars.utf8 { insert(b) }
        if alphanumeric {
            for b in UInt8(ascii: "a")...UInt8(ascii: "z") { insert(b) }
            for b in UInt8(ascii: "A")...UInt8(ascii: "Z") { insert(b) }
        }
        if alphanumeric || digits || hex {
            for b in UInt8(ascii: "0")...UInt8(ascii: "9") { insert(b) }
        }
        if hex {
            for b in UInt8(ascii: "a")...UInt8(ascii: "f") { insert(b) }
            for b in UInt8(ascii: "A")...UInt8(ascii: "F") { insert(b) }
        }
    }

    mutating func insert(_ b: UInt8) {
        if b < 64 { lo |= (1 as UInt64) << UInt64(b) } else if b < 128 { hi |= (1 as UInt64) << UInt64(b - 64) }
    }

    func union(_ other: ByteSet) -> ByteSet {
        var s = self
        s.lo |= other.lo
        s.hi |= other.hi
        return s
    }

    @inline(__always) func contains(_ b: UInt8) -> Bool {
        if b < 64 { return lo & ((1 as UInt64) << UInt64(b)) != 0 }
        if b < 128 { return hi & ((1 as UInt64) << UInt64(b - 64)) != 0 }
        return false
    }
}

enum SIPGrammar {
    static let digit = ByteSet(digits: true)
    static let hex = ByteSet(hex: true)
    static let alphanum = ByteSet(alphanumeric: true)
    /// token (RFC 3261 §25.1).
    static let token = ByteSet("-.!%*_+`'~", alphanumeric: true)
    /// unreserved = alphanum / mark (RFC 3261 §25.1).
    static let unreserved = ByteSet("-_.!~*'()", alphanumeric: true)
    /// user = 1*( unreserved / escaped / user-unreserved ) (RFC 3261 §25.1).
    static let user = unreserved.union(ByteSet("&=+$,;?/"))
    /// password = *( unreserved / escaped / "&" / "=" / "+" / "$" / "," ).
    static let password = unreserved.union(ByteSet("&=+$,"))
    /// paramchar = param-unreserved / unreserved / escaped (also RFC 3966 for tel URIs).
    static let param = unreserved.union(ByteSet("[]/:&+$"))
    /// hname / hvalue = *( hnv-unreserved / unreserved / escaped ).
    static let headerChar = unreserved.union(ByteSet("[]/?:+$"))
    /// hostname / IPv4address characters. "_" is not in the grammar but is widespread, so accepted.
    static let hostChar = ByteSet("-._", alphanumeric: true)
    /// IPv6reference contents.
    static let ipv6Char = ByteSet(":.", hex: true)
    /// scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) (RFC 3261 §25.1, RFC 3986 §3.1).
    static let schemeChar = ByteSet("+-.", alphanumeric: true)
    /// Call-ID word (RFC 3261 §25.1) plus "@".
    static let callIDChar = ByteSet("-.!%*_+`'~()<>:\\\"/[]?{}@", alphanumeric: true)
    /// Unquoted generic-param values: token / host, plus ":" so that a bare IPv6address in
    /// `received` (RFC 3261 §20.42, RFC 5118 §4.5) is accepted.
    static let genValue = token.union(ByteSet(":[]"))

    @inline(__always) static func isWSP(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 }
    @inline(__always) static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    static func isToken<C: Collection<UInt8>>(_ bytes: C) -> Bool {
        !bytes.isEmpty && bytes.allSatisfy { token.contains($0) }
    }
    static func isToken(_ s: String) -> Bool { isToken(s.utf8) }

    static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: b - 0x30
        case 0x41...0x46: b - 0x41 + 10
        case 0x61...0x66: b - 0x61 + 10
        default: nil
        }
    }

    /// Parses 1*DIGIT into a non-negative integer no larger than `max`; nil on anything else (no overflow possible).
    static func parseInteger<C: Collection<UInt8>>(_ bytes: C, max: Int) -> Int? {
        guard !bytes.isEmpty else { return nil }
        var value = 0
        for b in bytes {
            guard isDigit(b) else { return nil }
            value = value * 10 + Int(b - 0x30)
            if value > max { return nil }
        }
        return value
    }
    static func parseInteger(_ s: String, max: Int) -> Int? { parseInteger(s.utf8, max: max) }

    /// Trims SP/HT from both ends.
    static func trimWSP(_ s: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var s = s
        while let f = s.first, isWSP(f) { s = s.dropFirst() }
        while let l = s.last, isWSP(l) { s = s.dropLast() }
        return s
    }
    static func trimWSP(_ s: String) -> String {
        String(ByteSplitter.trimmingWSP(Substring(s)))
    }

    @inline(__always) static func string<C: Collection<UInt8>>(_ bytes: C) -> String {
        String(decoding: bytes, as: UTF8.self)
    }

    /// The string's UTF-8 bytes as one buffer: native and small strings give theirs without a copy of
    /// the text. Indexing a buffer is a load; stepping `String.UTF8View` costs ~10 instructions a byte.
    @inline(__always)
    static func withBytes<R>(_ s: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if let r = s.utf8.withContiguousStorageIfAvailable(body) { return r }
        var copy = s
        return copy.withUTF8(body)
    }

    @inline(__always) static func lowerASCII(_ b: UInt8) -> UInt8 { b >= 0x41 && b <= 0x5A ? b | 0x20 : b }

    /// ASCII-only lower-casing (host names, schemes, parameter names).
    static func lowercasedASCII(_ s: String) -> String {
        withBytes(s) { bytes in
            guard bytes.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) else { return s }
            // Written in place: no intermediate array, and names up to 15 bytes stay small (no heap at all).
            return String(unsafeUninitializedCapacity: bytes.count) { out in
                for i in 0..<bytes.count { out[i] = lowerASCII(bytes[i]) }
                return bytes.count
            }
        }
    }

    static func equalsIgnoringCase(_ a: String, _ b: String) -> Bool {
        withBytes(a) { x in
            withBytes(b) { y in
                guard x.count == y.count else { return false }
                for i in 0..<x.count where x[i] != y[i] && lowerASCII(x[i]) != lowerASCII(y[i]) { return false }
                return true
            }
        }
    }

    /// Whether `byte` occurs in `s`.
    static func contains(_ s: String, _ byte: UInt8) -> Bool {
        withBytes(s) { $0.contains(byte) }
    }

    /// RFC 3261 §19.1.2 / §25.1 escaped = "%" HEXDIG HEXDIG. Every byte must be in `allowed` or be part of an escape;
    /// returns the decoded bytes, or nil when a byte is not allowed or an escape is broken.
    static func percentDecode<C: Collection<UInt8>>(_ bytes: C, allowed: ByteSet) -> [UInt8]? where C.Index == Int {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let b = bytes[i]
            if b == UInt8(ascii: "%") {
                guard i + 2 < bytes.endIndex,
                      let h = hexValue(bytes[i + 1]), let l = hexValue(bytes[i + 2]) else { return nil }
                out.append(h << 4 | l)
                i += 3
            } else {
                guard allowed.contains(b) else { return nil }
                out.append(b)
                i += 1
            }
        }
        return out
    }

    /// `percentDecode` as a String; without any escape the bytes become the String directly (no array).
    static func percentDecodedString(_ bytes: ArraySlice<UInt8>, allowed: ByteSet) -> String? {
        if !bytes.contains(UInt8(ascii: "%")) {
            guard bytes.allSatisfy({ allowed.contains($0) }) else { return nil }
            return string(bytes)
        }
        return percentDecode(bytes, allowed: allowed).map { string($0) }
    }

    /// Escapes every byte that is not in `allowed` (and every "%") so that `percentDecode` gives the input back.
    static func percentEncode(_ s: String, allowed: ByteSet) -> String {
        // Nearly every user part, host and parameter needs no escape: hand back the same string, uncopied.
        if s.utf8.allSatisfy({ $0 != UInt8(ascii: "%") && allowed.contains($0) }) { return s }
        let digits: StaticString = "0123456789ABCDEF"
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count)
        for b in s.utf8 {
            if b != UInt8(ascii: "%") && allowed.contains(b) {
                out.append(b)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(digits.utf8Start[Int(b >> 4)])
                out.append(digits.utf8Start[Int(b & 0x0F)])
            }
        }
        return string(out)
    }

    /// Host: IPv6reference "[...]" or hostname / IPv4address characters (RFC 3261 §25.1). Not empty.
    static func isValidHost<C: BidirectionalCollection<UInt8>>(_ bytes: C) -> Bool {
        guard let first = bytes.first else { return false }
        if first == UInt8(ascii: "[") {
            guard bytes.count > 2, bytes.last == UInt8(ascii: "]") else { return false }
            return bytes.dropFirst().dropLast().allSatisfy { ipv6Char.contains($0) }
        }
        return bytes.allSatisfy { hostChar.contains($0) }
    }
}

/// A read cursor over bytes for the header-value grammars. Never traps: reads past the end give nil.
struct ByteCursor {
    let bytes: [UInt8]
    var index: Int

    init(_ bytes: [UInt8]) { self.bytes = bytes; self.index = 0 }
    init(_ s: String) { self.init(Array(s.utf8)) }

    var isAtEnd: Bool { index >= bytes.count }
    var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

    mutating func skipWSP() { while index < bytes.count, SIPGrammar.isWSP(bytes[index]) { index += 1 } }

    /// Consumes `b`; false (and nothing consumed) when the next byte is different.
    mutating func consume(_ b: UInt8) -> Bool {
        guard index < bytes.count, bytes[index] == b else { return false }
        index += 1
        return true
    }

    /// Consumes a run of bytes of `set` (possibly empty).
    mutating func take(while set: ByteSet) -> ArraySlice<UInt8> {
        let start = index
        while index < bytes.count, set.contains(bytes[index]) { index += 1 }
        return bytes[start..<index]
    }

    mutating func takeToken() -> ArraySlice<UInt8>? {
        let t = take(while: SIPGrammar.token)
        return t.isEmpty ? nil : t
    }

    var rest: ArraySlice<UInt8> { index < bytes.count ? bytes[index...] : [] }

    /// quoted-string = SWS DQUOTE *(qdtext / quoted-pair ) DQUOTE (RFC 3261 §25.1), the cursor at the DQUOTE.
    /// Returns the raw text including the quotes and the unescaped contents; nil when unterminated.
    mutating func takeQuotedString() -> (raw: ArraySlice<UInt8>, value: [UInt8])? {
        guard peek == UInt8(ascii: "\"") else { return nil }
        let start = index
        index += 1
        var value: [UInt8] = []
        while index < bytes.count {
            let b = bytes[index]
            switch b {
            case UInt8(ascii: "\""):
                index += 1
                return (bytes[start..<index], value)
            case UInt8(ascii: "\\"):
                // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
                guard index + 1 < bytes.count else { return nil }
                let e = bytes[index + 1]
                guard e <= 0x7F, e != 0x0A, e != 0x0D else { return nil }
                value.append(e)
                index += 2
            case 0x0D, 0x0A:
                return nil
            default:
                // qdtext = LWS / %x21 / %x23-5B / %x5D-7E / UTF8-NONASCII: no raw control characters.
                guard b >= 0x20 || b == 0x09, b != 0x7F else { return nil }
                value.append(b)
                index += 1
            }
        }
        return nil
    }

    /// `*( SEMI generic-param )` with LWS around ";" and "=" (RFC 3261 §25.1, §7.3.1).
    /// Unquoted values are `token / host`; quoted values are kept as written, quotes included.
    /// Stops (without consuming) at the first byte that is not the start of a parameter.
    mutating func parseParameters() -> SIPParameters? {
        var params = SIPParameters()
        var seen = ParameterNameSet()
        while true {
            let save = index
            skipWSP()
            guard consume(UInt8(ascii: ";")) else { index = save; return params }
            skipWSP()
            guard let name = takeToken() else { return nil }
            let afterName = index
            skipWSP()
            var value: String? = nil
            if consume(UInt8(ascii: "=")) {
                skipWSP()
                if peek == UInt8(ascii: "\"") {
                    guard let q = takeQuotedString() else { return nil }
                    value = SIPGrammar.string(q.raw)
                } else {
                    let v = take(while: SIPGrammar.genValue)
                    guard !v.isEmpty else { return nil }
                    value = SIPGrammar.string(v)
                }
            } else {
                index = afterName
            }
            let nameString = SIPGrammar.string(name)
            // "any given parameter-name MUST NOT appear more than once" (RFC 3261 §7.3.1).
            guard seen.insert(nameString, in: params) else { return nil }
            params.items.append((nameString, value))
        }
    }
}

/// Duplicate check for parameter names while parsing: a scan of the names so far while there are few
/// (no hashing, no set allocation for the usual two or three), a set once there are many (no quadratic cost
/// on a message stuffed with parameters).
struct ParameterNameSet {
    static let scanLimit = 8
    private var set: Set<String>?

    /// True when `name` (compared case-insensitively) is not among `params` yet.
    mutating func insert(_ name: String, in params: SIPParameters) -> Bool {
        if set == nil {
            if params.items.count < Self.scanLimit { return !params.contains(name) }
            set = Set(params.items.map { SIPGrammar.lowercasedASCII($0.name) })
        }
        return set!.insert(SIPGrammar.lowercasedASCII(name)).inserted
    }
}

extension SIPParameters {
    /// Serialises as `;name[=value]` for header parameters (values are stored as written).
    var headerParameterText: String {
        var s = ""
        for item in items {
            s += ";" + item.name
            if let v = item.value { s += "=" + v }
        }
        return s
    }
}

extension String {
    /// ASCII-only lower-casing for protocol text (schemes, host names, tokens): no Unicode case
    /// mapping, and no copy when the text is lower-case already (the usual case on the wire).
    public var lowercasedASCII: String { SIPGrammar.lowercasedASCII(self) }
}
