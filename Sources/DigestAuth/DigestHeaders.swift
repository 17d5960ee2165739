/// A Digest challenge (`WWW-Authenticate` / `Proxy-Authenticate`, RFC 3261 §25.1 `digest-cln`).
///
/// Serialises as `Digest realm="…", nonce="…", opaque="…", algorithm=MD5, qop="auth"` followed by
/// `domain`, `stale=true` and extension parameters when present.
public struct DigestChallenge: Sendable, Hashable, CustomStringConvertible {
    public var realm: String
    public var nonce: String
    public var opaque: String?
    /// The `algorithm` token as received or to send; nil means absent (MD5 by default, RFC 2617).
    public var algorithmName: String?
    /// The `qop` options ("auth", "auth-int", or other tokens as received); empty means absent.
    public var qopOptions: [String]
    public var stale: Bool
    /// The `domain` value (space-separated URIs), when present.
    public var domain: String?
    /// Parameters not listed above, in order.
    public var extensionParameters: [AuthParameter]

    /// A challenge to send. `algorithm` nil omits the parameter; empty `qop` omits it (RFC 2069 style).
    public init(
        realm: String, nonce: String, opaque: String? = nil, algorithm: DigestAlgorithm? = .md5,
        qop: [DigestQop] = [.auth], stale: Bool = false, domain: String? = nil,
        extensionParameters: [AuthParameter] = []
    ) {
        self.realm = realm
        self.nonce = nonce
        self.opaque = opaque
        self.algorithmName = algorithm?.token
        self.qopOptions = qop.map(\.token)
        self.stale = stale
        self.domain = domain
        self.extensionParameters = extensionParameters
    }

    /// The algorithm: `.md5` when absent, nil when the token is not supported.
    public var algorithm: DigestAlgorithm? {
        guard let algorithmName else { return .md5 }
        return DigestAlgorithm(token: algorithmName)
    }

    /// The supported qop options offered.
    public var qop: [DigestQop] { qopOptions.compactMap { DigestQop(token: $0) } }

    /// Interprets a generically parsed value. Requires the Digest scheme, `realm` and `nonce`.
    public init(_ value: AuthHeaderValue) throws(AuthParseError) {
        guard value.isDigest else { throw .notDigest }
        var realm: String?, nonce: String?
        self.opaque = nil
        self.algorithmName = nil
        self.qopOptions = []
        self.stale = false
        self.domain = nil
        self.extensionParameters = []
        for p in value.parameters {
            switch AuthGrammar.lowercasedASCII(p.name) {
            case "realm": realm = p.value
            case "nonce": nonce = p.value
            case "opaque": opaque = p.value
            case "domain": domain = p.value
            case "algorithm":
                guard AuthGrammar.isToken(p.value) else { throw .invalidParameter("algorithm") }
                algorithmName = p.value
            case "qop":
                // qop-options = "qop" EQUAL LDQUOT qop-value *("," qop-value) RDQUOT (RFC 3261 §25.1): cut at "," bytes.
                let options = AuthGrammar.split(p.value, on: UInt8(ascii: ",")).map { $0.trimmingASCIIWhitespace() }.filter { !$0.isEmpty }
                guard !options.isEmpty, options.allSatisfy(AuthGrammar.isToken) else { throw .invalidParameter("qop") }
                qopOptions = options
            case "stale":
                if AuthGrammar.equalsIgnoringASCIICase(p.value, "true") {
                    stale = true
                } else if AuthGrammar.equalsIgnoringASCIICase(p.value, "false") {
                    stale = false
                } else {
                    throw .invalidParameter("stale")
                }
            default:
                extensionParameters.append(p)
            }
        }
        guard let realm else { throw .missingParameter("realm") }
        guard let nonce else { throw .missingParameter("nonce") }
        self.realm = realm
        self.nonce = nonce
    }

    /// Parses a `WWW-Authenticate` / `Proxy-Authenticate` value that must be a Digest challenge.
    public static func parse<S: StringProtocol>(_ text: S, limits: AuthParseLimits = .default) throws(AuthParseError) -> DigestChallenge {
        try DigestChallenge(AuthHeaderValue.parse(text, limits: limits))
    }

    /// The generic form.
    public var headerValue: AuthHeaderValue {
        var ps: [AuthParameter] = [
            AuthParameter(name: "realm", value: realm, isQuoted: true),
            AuthParameter(name: "nonce", value: nonce, isQuoted: true),
        ]
        if let opaque { ps.append(AuthParameter(name: "opaque", value: opaque, isQuoted: true)) }
        if let algorithmName { ps.append(AuthParameter(name: "algorithm", value: algorithmName, isQuoted: false)) }
        if !qopOptions.isEmpty {
            ps.append(AuthParameter(name: "qop", value: qopOptions.joined(separator: ","), isQuoted: true))
        }
        if let domain { ps.append(AuthParameter(name: "domain", value: domain, isQuoted: true)) }
        if stale { ps.append(AuthParameter(name: "stale", value: "true", isQuoted: false)) }
        ps.append(contentsOf: extensionParameters)
        return AuthHeaderValue(scheme: "Digest", parameters: ps)
    }

    /// The header value, e.g. `Digest realm="ims.example", nonce="…", opaque="…", algorithm=MD5, qop="auth"`.
    public var serialized: String { headerValue.serialized }
    public var description: String { serialized }

    /// The challenges for a 401/407, one per algorithm, most preferred first (RFC 8760: SHA-256 before MD5),
    /// without duplicates. All share the nonce and opaque. Send each as its own header field, in this order.
    public static func challenges(
        realm: String, nonce: String, opaque: String?, algorithms: [DigestAlgorithm], qop: [DigestQop] = [.auth],
        stale: Bool = false
    ) -> [DigestChallenge] {
        var seen: Set<DigestAlgorithm> = []
        let unique = algorithms.filter { seen.insert($0).inserted }
        return unique.sorted { $0.preferenceRank < $1.preferenceRank }.map {
            DigestChallenge(realm: realm, nonce: nonce, opaque: opaque, algorithm: $0, qop: qop, stale: stale)
        }
    }
}

/// Digest credentials (`Authorization` / `Proxy-Authorization`, RFC 3261 §25.1 `digest-response`).
///
/// Parsing requires `username`, `realm`, `nonce`, `uri` and `response`, and with `qop` also `cnonce` and
/// `nc` (1 to 8 hex digits). Values the grammar wants quoted are accepted unquoted and vice versa (real
/// clients do both). Unknown parameters are kept in `extensionParameters`. Unsupported `algorithm` or `qop`
/// tokens parse fine and surface as nil `algorithm` / `qop` so the registrar can re-challenge.
public struct DigestCredentials: Sendable, Hashable, CustomStringConvertible {
    public var username: String
    public var realm: String
    public var nonce: String
    /// The digest-uri, exactly as sent (it enters HA2 verbatim).
    public var uri: String
    /// The request-digest as sent (hex).
    public var response: String
    /// The `algorithm` token as received; nil when absent (meaning MD5).
    public var algorithmName: String?
    public var cnonce: String?
    public var opaque: String?
    /// The message-qop token as received; nil without qop (RFC 2069 compatibility).
    public var qopName: String?
    /// The `nc` value exactly as received (it enters the hash verbatim).
    public var nonceCountText: String?
    /// Parameters not listed above, in order.
    public var extensionParameters: [AuthParameter]

    public init(
        username: String, realm: String, nonce: String, uri: String, response: String,
        algorithm: DigestAlgorithm? = nil, cnonce: String? = nil, opaque: String? = nil, qop: DigestQop? = nil,
        nonceCount: UInt32? = nil, extensionParameters: [AuthParameter] = []
    ) {
        self.username = username
        self.realm = realm
        self.nonce = nonce
        self.uri = uri
        self.response = response
        self.algorithmName = algorithm?.token
        self.cnonce = cnonce
        self.opaque = opaque
        self.qopName = qop?.token
        self.nonceCountText = nonceCount.map(DigestMath.nonceCountText)
        self.extensionParameters = extensionParameters
    }

    /// The algorithm: `.md5` when absent, nil when the token is not supported (e.g. "AKAv1-MD5").
    public var algorithm: DigestAlgorithm? {
        guard let algorithmName else { return .md5 }
        return DigestAlgorithm(token: algorithmName)
    }

    /// The qop: nil when absent or not supported (tell these apart with `qopName`).
    public var qop: DigestQop? { qopName.flatMap { DigestQop(token: $0) } }

    /// `nc` as a number.
    public var nonceCount: UInt32? { nonceCountText.flatMap { UInt32($0, radix: 16) } }

    /// Interprets a generically parsed value.
    public init(_ value: AuthHeaderValue) throws(AuthParseError) {
        guard value.isDigest else { throw .notDigest }
        var username: String?, realm: String?, nonce: String?, uri: String?, response: String?
        self.algorithmName = nil
        self.cnonce = nil
        self.opaque = nil
        self.qopName = nil
        self.nonceCountText = nil
        self.extensionParameters = []
        for p in value.parameters {
            switch AuthGrammar.lowercasedASCII(p.name) {
            case "username": username = p.value
            case "realm": realm = p.value
            case "nonce": nonce = p.value
            case "uri": uri = p.value
            case "response":
                guard Hex.isHex(p.value) else { throw .invalidParameter("response") }
                response = p.value
            case "algorithm":
                guard AuthGrammar.isToken(p.value) else { throw .invalidParameter("algorithm") }
                algorithmName = p.value
            case "cnonce": cnonce = p.value
            case "opaque": opaque = p.value
            case "qop":
                guard AuthGrammar.isToken(p.value) else { throw .invalidParameter("qop") }
                qopName = p.value
            case "nc":
                guard p.value.utf8.count <= 8, Hex.isHex(p.value) else { throw .invalidParameter("nc") }
                nonceCountText = p.value
            default:
                extensionParameters.append(p)
            }
        }
        guard let username else { throw .missingParameter("username") }
        guard let realm else { throw .missingParameter("realm") }
        guard let nonce else { throw .missingParameter("nonce") }
        guard let uri else { throw .missingParameter("uri") }
        guard let response else { throw .missingParameter("response") }
        if qopName != nil {
            guard cnonce != nil else { throw .missingParameter("cnonce") }
            guard nonceCountText != nil else { throw .missingParameter("nc") }
        }
        self.username = username
        self.realm = realm
        self.nonce = nonce
        self.uri = uri
        self.response = response
    }

    /// Parses an `Authorization` / `Proxy-Authorization` value that must be Digest credentials.
    public static func parse<S: StringProtocol>(_ text: S, limits: AuthParseLimits = .default) throws(AuthParseError) -> DigestCredentials {
        try DigestCredentials(AuthHeaderValue.parse(text, limits: limits))
    }

    /// The generic form (RFC 3261 quoting: username, realm, nonce, uri, response, cnonce, opaque quoted;
    /// algorithm, qop, nc bare).
    public var headerValue: AuthHeaderValue {
        var ps: [AuthParameter] = [
            AuthParameter(name: "username", value: username, isQuoted: true),
            AuthParameter(name: "realm", value: realm, isQuoted: true),
            AuthParameter(name: "nonce", value: nonce, isQuoted: true),
            AuthParameter(name: "uri", value: uri, isQuoted: true),
            AuthParameter(name: "response", value: response, isQuoted: true),
        ]
        if let algorithmName { ps.append(AuthParameter(name: "algorithm", value: algorithmName, isQuoted: false)) }
        if let cnonce { ps.append(AuthParameter(name: "cnonce", value: cnonce, isQuoted: true)) }
        if let opaque { ps.append(AuthParameter(name: "opaque", value: opaque, isQuoted: true)) }
        if let qopName { ps.append(AuthParameter(name: "qop", value: qopName, isQuoted: false)) }
        if let nonceCountText { ps.append(AuthParameter(name: "nc", value: nonceCountText, isQuoted: false)) }
        ps.append(contentsOf: extensionParameters)
        return AuthHeaderValue(scheme: "Digest", parameters: ps)
    }

    public var serialized: String { headerValue.serialized }
    public var description: String { serialized }
}

extension StringProtocol {
    func trimmingASCIIWhitespace() -> String {
        let u = Array(utf8)
        var lo = 0, hi = u.count
        while lo < hi, AuthGrammar.isWSP(u[lo]) { lo += 1 }
        while hi > lo, AuthGrammar.isWSP(u[hi - 1]) { hi -= 1 }
        return String(decoding: u[lo..<hi], as: UTF8.self)
    }
}
