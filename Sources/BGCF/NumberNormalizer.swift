import SIPCore

/// A telephone number in canonical form: decimal digits (for `tel:` local numbers also the RFC 3966 extra
/// characters `*`, `#`, `A`–`F`), visual separators removed, with a leading `+` when the number is global (E.164).
public struct DialledNumber: Sendable, Hashable, CustomStringConvertible {
    /// The canonical digits, e.g. `+16505550002` or `5550002`.
    public var digits: String
    /// The `phone-context` of a local number, when one was given (RFC 3966 §5.1.5).
    public var phoneContext: String?

    public init(digits: String, phoneContext: String? = nil) {
        self.digits = digits
        self.phoneContext = phoneContext
    }

    /// True for a global (E.164) number, i.e. one written with a leading `+`.
    public var isGlobal: Bool { digits.utf8.first == UInt8(ascii: "+") }
    /// The digits without the leading `+`.
    public var digitsWithoutPlus: String { isGlobal ? String(digits.dropFirst()) : digits }
    public var description: String { digits }
}

/// Decides whether a Request-URI or a dialled string is a telephone number, and if so produces its canonical digits.
///
/// A URI is a number when it is
/// - a `tel:` URI (RFC 3966);
/// - a `sip:`/`sips:` URI with `user=phone` whose user part is a telephone-subscriber (`+1-650-555-0002`,
///   `5550002;phone-context=example.com`) or, failing that, a dial-able digit string;
/// - a `sip:`/`sips:` URI **in the home domain** whose user part is a dial-able digit string.
///   A numeric user part in another domain (`sip:1234@conference.other.net`) is an ordinary off-net SIP URI
///   (Clearwater's rule), not a number.
///
/// A dial-able digit string is one or more decimal digits with an optional leading `+`, where the visual separators
/// `-`, `.`, `(`, `)` and spaces may appear anywhere after the `+` and are dropped.
///
/// A local number whose `phone-context` is itself a global number prefix (`tel:555-0002;phone-context=+1-650`) is
/// made global by prefixing the context (`+16505550002`), as RFC 3966 §5.1.5 recommends such contexts be written;
/// a domain-name context is kept in `phoneContext` and the digits stay local.
public enum NumberNormalizer {
    /// Normalises a Request-URI; nil when it is not a number (see the type's documentation).
    public static func normalize(uri: URI, homeDomain: String) -> DialledNumber? {
        switch uri {
        case .tel(let tel):
            return normalize(tel: tel)
        case .sip(let sip):
            guard let user = sip.user, !user.isEmpty else { return nil }
            if sip.userParameter == "phone" {
                if let tel = try? TelURI(parsing: "tel:" + user) { return normalize(tel: tel) }
                return normalize(dialled: user)
            }
            guard isSameDomain(sip.host, homeDomain) else { return nil }
            return normalize(dialled: user)
        case .other:
            return nil
        }
    }

    /// Normalises a bare dialled string such as `6505550002`, `650 555 0002`, `(650) 555-0002` or `+1.650.555.0002`;
    /// nil when it contains anything but digits, visual separators, spaces and one leading `+`.
    public static func normalize(dialled: String) -> DialledNumber? {
        guard let digits = canonicalDigits(dialled) else { return nil }
        return DialledNumber(digits: digits)
    }

    /// `sip:N@homeDomain`, the home-domain public identity for a number.
    public static func toHomeSIPURI(_ number: DialledNumber, homeDomain: String) -> String {
        toHomeSIPURI(number.digits, homeDomain: homeDomain)
    }

    /// `sip:N@homeDomain`, the home-domain public identity for canonical digits.
    public static func toHomeSIPURI(_ digits: String, homeDomain: String) -> String {
        "sip:\(digits)@\(homeDomain)"
    }

    // MARK: - Helpers

    /// An optional `+` (before any digit) then digits; separators and spaces anywhere are dropped. Nil unless there
    /// is at least one digit and nothing else.
    static func canonicalDigits(_ text: String) -> String? {
        var out: [UInt8] = []
        var sawDigit = false
        var sawPlus = false
        for b in text.utf8 {
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                out.append(b)
                sawDigit = true
            case UInt8(ascii: "+"):
                // Only as the first significant character.
                guard out.isEmpty, !sawPlus else { return nil }
                sawPlus = true
                out.append(b)
            case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: " "), 0x09:
                continue
            default:
                return nil
            }
        }
        guard sawDigit else { return nil }
        return String(decoding: out, as: UTF8.self)
    }

    static func normalize(tel: TelURI) -> DialledNumber {
        let number = tel.normalizedNumber
        if tel.isGlobal { return DialledNumber(digits: number) }
        let context = tel.phoneContext
        if let context, context.utf8.first == UInt8(ascii: "+"),
           let prefix = canonicalDigits(context), prefix.utf8.dropFirst().allSatisfy(isDecimal),
           number.utf8.allSatisfy(isDecimal) {
            return DialledNumber(digits: prefix + number, phoneContext: context)
        }
        return DialledNumber(digits: number, phoneContext: context)
    }

    static func isDecimal(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }

    /// ASCII case-insensitive host comparison, ignoring one trailing dot (a fully-qualified `example.com.`).
    static func isSameDomain(_ a: String, _ b: String) -> Bool {
        func fold(_ s: String) -> String {
            let lower = String(decoding: s.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }, as: UTF8.self)
            return lower.hasSuffix(".") ? String(lower.dropLast()) : lower
        }
        return fold(a) == fold(b)
    }
}
