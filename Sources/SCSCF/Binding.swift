import SIPCore

/// One registered contact of an address-of-record (RFC 3261 §10.3, RFC 5626 §6, RFC 5627).
public struct Binding: Sendable, Hashable {
    /// What identifies the binding across refreshes: `<instance>;reg-id=<n>` (RFC 5626), the instance
    /// alone (RFC 5627), else the contact URI.
    public var key: String
    /// The Contact URI as the UE sent it (reachability target, maybe a private address behind NAT).
    public var contactURI: String
    /// Contact header parameters other than `expires`/`q` (feature tags such as `+sip.instance`).
    public var contactParameters: SIPParameters
    public var q: Double?
    /// Absolute expiry, Unix seconds.
    public var expiresAt: Int64
    public var callID: String
    public var cseq: UInt32
    /// The Path headers of the REGISTER (RFC 3327), in order: how requests reach the UE.
    public var path: [String]
    public var instance: String?
    public var regID: Int?
    /// The flow the REGISTER arrived on (`udp:1.2.3.4:5060`, `tcp:1.2.3.4:40000#7`), recorded by the P-CSCF.
    public var flow: String?
    public var impi: String
    public var userAgent: String?
    public var registeredAt: Int64

    public init(key: String, contactURI: String, contactParameters: SIPParameters = SIPParameters(), q: Double? = nil,
                expiresAt: Int64, callID: String, cseq: UInt32, path: [String] = [], instance: String? = nil,
                regID: Int? = nil, flow: String? = nil, impi: String, userAgent: String? = nil, registeredAt: Int64) {
        self.key = key
        self.contactURI = contactURI
        self.contactParameters = contactParameters
        self.q = q
        self.expiresAt = expiresAt
        self.callID = callID
        self.cseq = cseq
        self.path = path
        self.instance = instance
        self.regID = regID
        self.flow = flow
        self.impi = impi
        self.userAgent = userAgent
        self.registeredAt = registeredAt
    }

    public func remaining(at now: Int64) -> Int { Int(max(0, expiresAt - now)) }

    /// The Contact header value for a 200 OK or reginfo: URI, feature parameters, remaining expiry.
    public func contactHeaderValue(now: Int64, pubGRUU: String? = nil) -> String {
        var params = contactParameters
        params.remove("expires")
        if let q { params.set("q", Self.format(q)) }
        params.set("expires", String(remaining(at: now)))
        if let pubGRUU { params.set("pub-gruu", Self.quoted(pubGRUU)) }
        var text = "<\(contactURI)>"
        for item in params.items {
            text += ";" + item.name
            if let value = item.value { text += "=" + value }
        }
        return text
    }

    /// A quoted-string (RFC 3261 §25.1): `"` and `\` escaped, CR/LF (not representable) dropped.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for ch in text.unicodeScalars {
            switch ch {
            case "\"", "\\": out += "\\"; out.unicodeScalars.append(ch)
            case "\r", "\n": continue
            default: out.unicodeScalars.append(ch)
            }
        }
        return out + "\""
    }

    /// A qvalue as RFC 3261 §25.1 writes it: "0.5", "0.001", "1.0" (clamped to 0...1; NaN counts as 0, no trap).
    static func format(_ q: Double) -> String {
        let clamped = q.isNaN ? 0 : min(max(q, 0), 1)
        let thousandths = Int((clamped * 1000).rounded())
        let whole = thousandths / 1000
        var frac = String(thousandths % 1000)
        while frac.count < 3 { frac = "0" + frac }
        while frac.hasSuffix("0") { frac.removeLast() }
        return frac.isEmpty ? "\(whole).0" : "\(whole).\(frac)"
    }
}
