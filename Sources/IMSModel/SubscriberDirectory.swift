import SIPCore

/// Credentials of a private identity (IMPI), as the HSS hands them to the S-CSCF (Cx MAR/MAA, digest).
public struct AuthInfo: Sendable, Hashable {
    public var impi: String
    public var realm: String
    /// Lower-case hex MD5(impi:realm:password).
    public var ha1MD5: String
    /// Lower-case hex SHA-256(impi:realm:password), when provisioned with a password.
    public var ha1SHA256: String?
    /// HA1s over the user part alone (`6505550001:realm:password`), for softphones whose "auth name"
    /// was left empty and that authenticate with the bare user name. Only for home-domain IMPIs
    /// provisioned with a password.
    public var userPartHA1MD5: String?
    public var userPartHA1SHA256: String?

    public init(impi: String, realm: String, ha1MD5: String, ha1SHA256: String?,
                userPartHA1MD5: String? = nil, userPartHA1SHA256: String? = nil) {
        self.impi = impi
        self.realm = realm
        self.ha1MD5 = ha1MD5
        self.ha1SHA256 = ha1SHA256
        self.userPartHA1MD5 = userPartHA1MD5
        self.userPartHA1SHA256 = userPartHA1SHA256
    }

    /// The stored HA1 that matches the user name the client authenticated with.
    public func ha1(sha256: Bool, bareUserName: Bool) -> String? {
        switch (sha256, bareUserName) {
        case (false, false): ha1MD5
        case (true, false): ha1SHA256
        case (false, true): userPartHA1MD5
        case (true, true): userPartHA1SHA256
        }
    }
}

/// An implicit registration set (TS 29.228 / TS 23.228 §5.2.1a): public identities registered together,
/// with the private identities that may register them and their service profile.
public struct RegistrationSet: Sendable, Hashable {
    public var id: Int64
    /// Normalised IMPUs, the default (first registered, used as the binding AoR) first.
    public var publicIdentities: [String]
    public var barred: Set<String>
    public var privateIdentities: [String]
    /// TS 29.228 ServiceProfile XML with the initial filter criteria.
    public var serviceProfileXML: String?

    public init(id: Int64, publicIdentities: [String], barred: Set<String> = [], privateIdentities: [String],
                serviceProfileXML: String? = nil) {
        self.id = id
        self.publicIdentities = publicIdentities
        self.barred = barred
        self.privateIdentities = privateIdentities
        self.serviceProfileXML = serviceProfileXML
    }

    /// The AoR that keys the set's bindings: its default public identity.
    public var defaultIdentity: String { publicIdentities.first ?? "" }
    /// What P-Associated-URI lists (TS 24.229 §5.4.1.2.2): every non-barred identity, default first.
    public var associatedIdentities: [String] { publicIdentities.filter { !barred.contains($0) } }
}

/// What the S-CSCF and I-CSCF ask of the HSS. Answered from memory on the SIP event loop.
public protocol SubscriberDirectory: AnyObject {
    func authInfo(impi: String) -> AuthInfo?
    /// The implicit registration set a public identity belongs to (any IMPU form; normalised inside).
    func registrationSet(impu: String) -> RegistrationSet?
}

/// Canonical text of a public identity, so lookups do not depend on how a client wrote it.
public enum PublicIdentity {
    /// `sip:User@Example.COM;transport=udp` → `sip:User@example.com`; `tel:+1-650-555` → `tel:+1650555`.
    public static func normalize(_ text: String, homeDomain: String? = nil, aliases: Set<String> = []) -> String? {
        guard let uri = try? URI(parsing: text.trimmingWhitespace) else { return nil }
        return normalize(uri, homeDomain: homeDomain, aliases: aliases)
    }

    public static func normalize(_ uri: URI) -> String? { normalize(uri, homeDomain: nil, aliases: []) }

    /// As `normalize(_:)`, with hosts that are aliases of the home domain (the server's own
    /// addresses, which users often type as their "domain") read as the home domain, port dropped.
    public static func normalize(_ uri: URI, homeDomain: String?, aliases: Set<String>) -> String? {
        switch uri {
        case .sip(let sip):
            // Hot: twice per REGISTER. ASCII case folding (schemes and host names are ASCII on the wire;
            // an IDN host arrives as A-labels), and the pieces appended into one sized string.
            let host = sip.host.lowercasedASCII
            let user = sip.user ?? ""
            let alias = homeDomain.flatMap { aliases.contains(host) ? $0.lowercasedASCII : nil }
            let domain = alias ?? host
            var out = ""
            out.reserveCapacity(sip.scheme.utf8.count + user.utf8.count + domain.utf8.count + 8)
            out += sip.scheme.lowercasedASCII
            out += ":"
            if !user.isEmpty { out += user; out += "@" }
            out += domain
            if alias == nil, let port = sip.port { out += ":"; out += String(port) }
            return out
        case .tel(let tel):
            return "tel:" + tel.normalizedNumber
        case .other:
            return nil
        }
    }
}

extension String {
    var trimmingWhitespace: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "<" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == ">" { s = s.dropLast() }
        return String(s)
    }
}
