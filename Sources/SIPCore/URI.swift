/// Any URI that can appear in a Request-URI or a name-addr (RFC 3261 §25.1 Request-URI = SIP-URI / SIPS-URI / absoluteURI).
public enum URI: Sendable, Hashable, CustomStringConvertible {
    case sip(SIPURI)
    case tel(TelURI)
    /// Any other scheme, lower-cased, with the text after the colon kept verbatim.
    case other(scheme: String, value: String)

    public init(parsing text: String) throws(SIPParseError) {
        let bytes = Array(text.utf8)
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")), URI.isValidScheme(bytes[..<colon]) else {
            throw .malformed("URI")
        }
        let scheme = SIPGrammar.lowercasedASCII(SIPGrammar.string(bytes[..<colon]))
        switch scheme {
        case "sip", "sips": self = .sip(try SIPURI(parsing: text, bytes: bytes))
        case "tel": self = .tel(try TelURI(parsing: text))
        default:
            let value = bytes[(colon + 1)...]
            // absoluteURI: no whitespace, controls, quotes or angle brackets.
            guard !value.isEmpty, value.allSatisfy({ $0 > 0x20 && $0 != 0x7F && $0 != 0x22 && $0 != 0x3C && $0 != 0x3E }) else {
                throw .malformed("URI")
            }
            self = .other(scheme: scheme, value: SIPGrammar.string(value))
        }
    }

    /// scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
    static func isValidScheme(_ s: ArraySlice<UInt8>) -> Bool {
        guard let f = s.first, (f | 0x20) >= UInt8(ascii: "a"), (f | 0x20) <= UInt8(ascii: "z") else { return false }
        return s.allSatisfy { SIPGrammar.schemeChar.contains($0) }
    }

    public var scheme: String {
        switch self {
        case .sip(let u): u.scheme
        case .tel: "tel"
        case .other(let s, _): s
        }
    }

    public var sipURI: SIPURI? { if case .sip(let u) = self { u } else { nil } }
    public var telURI: TelURI? { if case .tel(let u) = self { u } else { nil } }

    public var description: String {
        switch self {
        case .sip(let u): u.description
        case .tel(let t): t.description
        case .other(let s, let v): s + ":" + v
        }
    }

    /// RFC 3261 §19.1.4 for SIP URIs, RFC 3966 §4 for tel URIs, exact text otherwise.
    public func isEquivalent(to other: URI) -> Bool {
        switch (self, other) {
        case (.sip(let a), .sip(let b)): a.isEquivalent(to: b)
        case (.tel(let a), .tel(let b)): a.isEquivalent(to: b)
        case (.other(let s1, let v1), .other(let s2, let v2)): s1 == s2 && v1 == v2
        default: false
        }
    }
}
