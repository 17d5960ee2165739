/// One `hname=hvalue` component of a SIP URI (RFC 3261 §19.1.1), %-escapes resolved.
public struct SIPURIHeader: Sendable, Hashable {
    public var name: String
    public var value: String
    public init(name: String, value: String) { self.name = name; self.value = value }
}

/// A `sip:` or `sips:` URI (RFC 3261 §19.1). User, password, parameters and headers are held with their
/// %-escapes resolved (§19.1.2); `description` escapes them again where the grammar needs it, and
/// `originalText` keeps the text as it was parsed.
public struct SIPURI: Sendable, Hashable, CustomStringConvertible {
    /// "sip" or "sips", lower-cased.
    public var scheme: String
    public var user: String?
    public var password: String?
    /// As written; an IPv6 reference keeps its brackets. Compared case-insensitively.
    public var host: String
    public var port: Int?
    public var parameters: SIPParameters
    public var headers: [SIPURIHeader]
    /// The text this URI was parsed from (nil when built in code). `description` does not use it, so it may be
    /// stale after the components were changed.
    public private(set) var originalText: String?

    public init(scheme: String = "sip", user: String? = nil, password: String? = nil, host: String, port: Int? = nil,
                parameters: SIPParameters = SIPParameters(), headers: [SIPURIHeader] = []) {
        self.scheme = SIPGrammar.lowercasedASCII(scheme)
        self.user = user
        self.password = password
        self.host = host
        self.port = port
        self.parameters = parameters
        self.headers = headers
        self.originalText = nil
    }

    /// Parses `sip:` / `sips:` URIs (RFC 3261 §25.1 SIP-URI, SIPS-URI). Whitespace, angle brackets and broken
    /// %-escapes are errors.
    public init(parsing text: String) throws(SIPParseError) {
        try self.init(parsing: text, bytes: Array(text.utf8))
    }

    /// `bytes` is `text` as UTF-8 (a caller that already has them saves a copy).
    init(parsing text: String, bytes: [UInt8]) throws(SIPParseError) {
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else { throw .malformed("URI") }
        let scheme = SIPGrammar.lowercasedASCII(SIPGrammar.string(bytes[..<colon]))
        guard scheme == "sip" || scheme == "sips" else { throw .malformed("URI") }
        self.scheme = scheme
        self.originalText = text
        var i = colon + 1

        // userinfo: everything up to the first "@" (user may contain ";", "?", "/" etc., §19.1.1).
        if let at = bytes[i...].firstIndex(of: UInt8(ascii: "@")) {
            let info = bytes[i..<at]
            let userPart: ArraySlice<UInt8>
            if let pc = info.firstIndex(of: UInt8(ascii: ":")) {
                userPart = info[..<pc]
                guard let pw = SIPGrammar.percentDecodedString(info[(pc + 1)...], allowed: SIPGrammar.password) else {
                    throw .malformed("URI")
                }
                password = pw
            } else {
                userPart = info
                password = nil
            }
            guard !userPart.isEmpty, let u = SIPGrammar.percentDecodedString(userPart, allowed: SIPGrammar.user) else {
                throw .malformed("URI")
            }
            user = u
            i = at + 1
        } else {
            user = nil
            password = nil
        }

        // hostport
        let hostStart = i
        if i < bytes.count, bytes[i] == UInt8(ascii: "[") {
            guard let close = bytes[i...].firstIndex(of: UInt8(ascii: "]")) else { throw .malformed("URI") }
            i = close + 1
        } else {
            while i < bytes.count, SIPGrammar.hostChar.contains(bytes[i]) { i += 1 }
        }
        let hostBytes = bytes[hostStart..<i]
        guard SIPGrammar.isValidHost(hostBytes) else { throw .malformed("URI") }
        host = SIPGrammar.string(hostBytes)
        port = nil
        if i < bytes.count, bytes[i] == UInt8(ascii: ":") {
            i += 1
            let ps = i
            while i < bytes.count, SIPGrammar.isDigit(bytes[i]) { i += 1 }
            guard let p = SIPGrammar.parseInteger(bytes[ps..<i], max: 65535) else { throw .malformed("URI") }
            port = p
        }

        // uri-parameters
        parameters = SIPParameters()
        var seen = ParameterNameSet()
        while i < bytes.count, bytes[i] == UInt8(ascii: ";") {
            i += 1
            var end = i
            while end < bytes.count, bytes[end] != UInt8(ascii: ";"), bytes[end] != UInt8(ascii: "?") { end += 1 }
            let param = bytes[i..<end]
            let name: ArraySlice<UInt8>, value: ArraySlice<UInt8>?
            if let eq = param.firstIndex(of: UInt8(ascii: "=")) {
                name = param[..<eq]
                value = param[(eq + 1)...]
            } else {
                name = param
                value = nil
            }
            guard !name.isEmpty, let nameString = SIPGrammar.percentDecodedString(name, allowed: SIPGrammar.param) else {
                throw .malformed("URI")
            }
            var v: String? = nil
            if let value {
                guard !value.isEmpty, let d = SIPGrammar.percentDecodedString(value, allowed: SIPGrammar.param) else {
                    throw .malformed("URI")
                }
                v = d
            }
            // A parameter name appears at most once (RFC 3261 §7.3.1); duplicates would make §19.1.4 ambiguous.
            guard seen.insert(nameString, in: parameters) else { throw .malformed("URI") }
            parameters.items.append((nameString, v))
            i = end
        }

        // headers = "?" header *( "&" header )
        headers = []
        if i < bytes.count, bytes[i] == UInt8(ascii: "?") {
            i += 1
            for h in bytes[i...].split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: false) {
                guard let eq = h.firstIndex(of: UInt8(ascii: "=")), eq > h.startIndex,
                      let n = SIPGrammar.percentDecode(h[..<eq], allowed: SIPGrammar.headerChar),
                      let v = SIPGrammar.percentDecode(h[(eq + 1)...], allowed: SIPGrammar.headerChar) else {
                    throw .malformed("URI")
                }
                headers.append(SIPURIHeader(name: SIPGrammar.string(n), value: SIPGrammar.string(v)))
            }
            i = bytes.count
        }
        guard i == bytes.count else { throw .malformed("URI") }
    }

    public var description: String {
        var s = scheme + ":"
        if let user {
            s += SIPGrammar.percentEncode(user, allowed: SIPGrammar.user)
            if let password { s += ":" + SIPGrammar.percentEncode(password, allowed: SIPGrammar.password) }
            s += "@"
        }
        s += hostPort
        for item in parameters.items {
            s += ";" + SIPGrammar.percentEncode(item.name, allowed: SIPGrammar.param)
            if let v = item.value { s += "=" + SIPGrammar.percentEncode(v, allowed: SIPGrammar.param) }
        }
        for (n, h) in headers.enumerated() {
            s += n == 0 ? "?" : "&"
            s += SIPGrammar.percentEncode(h.name, allowed: SIPGrammar.headerChar) + "="
                + SIPGrammar.percentEncode(h.value, allowed: SIPGrammar.headerChar)
        }
        return s
    }

    /// `host[:port]`.
    public var hostPort: String { port.map { "\(host):\($0)" } ?? host }
    public var isSecure: Bool { scheme == "sips" }
    /// The `transport` parameter, lower-cased.
    public var transport: String? { parameters["transport"].flatMap { $0 }.map(SIPGrammar.lowercasedASCII) }
    /// RFC 3261 §19.1.1 `lr`: the element is a loose router (§16.4).
    public var isLooseRouter: Bool { parameters.contains("lr") }
    /// The `user` parameter ("phone", "ip", ...), lower-cased.
    public var userParameter: String? { parameters["user"].flatMap { $0 }.map(SIPGrammar.lowercasedASCII) }
    public var maddr: String? { parameters["maddr"].flatMap { $0 } }
    /// The `method` parameter (only meaningful in a Contact/Refer-To, never in a Request-URI).
    public var methodParameter: String? { parameters["method"].flatMap { $0 } }

    /// The address-of-record form used by registrars (RFC 3261 §10.3 step 5): scheme, user and host:port only,
    /// unescaped, host lower-cased.
    public var addressOfRecord: String {
        var s = scheme + ":"
        if let user { s += SIPGrammar.percentEncode(user, allowed: SIPGrammar.user) + "@" }
        s += SIPGrammar.lowercasedASCII(host)
        if let port { s += ":\(port)" }
        return s
    }

    /// RFC 3261 §19.1.4 URI comparison.
    public func isEquivalent(to other: SIPURI) -> Bool {
        // Scheme, user and password are compared case-sensitively after unescaping; host case-insensitively.
        guard scheme == other.scheme, user == other.user, password == other.password,
              SIPGrammar.equalsIgnoringCase(host, other.host), port == other.port else { return false }
        // user, ttl, method, maddr and transport must match and appear in both or neither.
        for name in ["user", "ttl", "method", "maddr", "transport"] {
            let a = parameters[name], b = other.parameters[name]
            switch (a, b) {
            case (nil, nil): continue
            case (.some(let x), .some(let y)):
                guard SIPGrammar.equalsIgnoringCase(x ?? "", y ?? ""), (x == nil) == (y == nil) else { return false }
            default: return false
            }
        }
        // Any other parameter appearing in both must match; those in only one are ignored.
        for item in parameters.items {
            guard let theirs = other.parameters[item.name] else { continue }
            guard SIPGrammar.equalsIgnoringCase(item.value ?? "", theirs ?? ""), (item.value == nil) == (theirs == nil) else {
                return false
            }
        }
        // Header components are never ignored: the same set on both sides (names case-insensitive).
        guard headers.count == other.headers.count else { return false }
        for h in headers {
            guard other.headers.contains(where: { SIPGrammar.equalsIgnoringCase($0.name, h.name) && $0.value == h.value })
            else { return false }
        }
        return true
    }

    public static func == (a: SIPURI, b: SIPURI) -> Bool {
        a.scheme == b.scheme && a.user == b.user && a.password == b.password && a.host == b.host && a.port == b.port
            && a.parameters == b.parameters && a.headers == b.headers
    }

    public func hash(into h: inout Hasher) {
        h.combine(scheme); h.combine(user); h.combine(password); h.combine(host); h.combine(port)
        h.combine(parameters); h.combine(headers)
    }
}
