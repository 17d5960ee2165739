/// One auth-param: `name=token` or `name="quoted string"`.
public struct AuthParameter: Sendable, Hashable {
    /// The name as written (compare case-insensitively).
    public var name: String
    /// The value, unquoted and unescaped.
    public var value: String
    /// Whether it was (or is to be) written as a quoted-string. Values that are not tokens are always
    /// written quoted whatever this says.
    public var isQuoted: Bool

    public init(name: String, value: String, isQuoted: Bool) {
        self.name = name
        self.value = value
        self.isQuoted = isQuoted
    }

    /// `name=value` as it goes on the wire.
    public var serialized: String {
        let n = AuthGrammar.sanitizedToken(name)
        if !isQuoted, AuthGrammar.isToken(value) { return "\(n)=\(value)" }
        return "\(n)=\(AuthGrammar.quoted(value))"
    }
}

/// A challenge (`WWW-Authenticate`, `Proxy-Authenticate`) or credentials (`Authorization`,
/// `Proxy-Authorization`) header value of any scheme, parsed generically (RFC 3261 §25.1 `challenge` /
/// `credentials`): the scheme and its comma-separated auth-params, or for non-Digest schemes a token68
/// (RFC 7235, e.g. `Basic dXNlcg==`). The two header families share this grammar.
///
/// Parsing rules: the scheme is case-insensitive; LWS (including folded lines) is allowed around `=` and
/// `,`; values are tokens or quoted-strings with `\` escapes; parameter names are unique
/// (case-insensitively) or the value is refused with `.duplicateParameter`; unknown parameters are kept in
/// order. Empty list elements (`a=1,,b=2`) are tolerated. Input is bounded by `AuthParseLimits`, and every
/// failure is a thrown `AuthParseError`, never a trap.
public struct AuthHeaderValue: Sendable, Hashable, CustomStringConvertible {
    /// The auth-scheme as written, e.g. "Digest".
    public var scheme: String
    /// A token68 instead of parameters (never for Digest).
    public var token68: String?
    /// The parameters in order.
    public var parameters: [AuthParameter]

    public init(scheme: String, token68: String? = nil, parameters: [AuthParameter] = []) {
        self.scheme = scheme
        self.token68 = token68
        self.parameters = parameters
    }

    /// Whether the scheme is `Digest` (case-insensitively).
    public var isDigest: Bool { AuthGrammar.equalsIgnoringASCIICase(scheme, "Digest") }

    /// The first parameter with this name (case-insensitive).
    public func parameter(_ name: String) -> AuthParameter? {
        parameters.first { AuthGrammar.equalsIgnoringASCIICase($0.name, name) }
    }

    /// The value of the parameter with this name (case-insensitive).
    public subscript(_ name: String) -> String? { parameter(name)?.value }

    /// Parses a header value (one header field; these headers are never comma-combined, RFC 3261 §7.3.1).
    public static func parse<S: StringProtocol>(
        _ text: S, limits: AuthParseLimits = .default
    ) throws(AuthParseError) -> AuthHeaderValue {
        guard text.utf8.count <= limits.maxLength else { throw .tooLong }
        return try parseValidated(Array(text.utf8), limits: limits)
    }

    /// Parses raw header value bytes, which must be UTF-8.
    public static func parse<C: Collection>(
        bytes: C, limits: AuthParseLimits = .default
    ) throws(AuthParseError) -> AuthHeaderValue where C.Element == UInt8 {
        guard bytes.count <= limits.maxLength else { throw .tooLong }
        let array = Array(bytes)
        guard String(decoding: array, as: UTF8.self).utf8.elementsEqual(array) else { throw .invalidUTF8 }
        return try parseValidated(array, limits: limits)
    }

    private static func parseValidated(_ bytes: [UInt8], limits: AuthParseLimits) throws(AuthParseError) -> AuthHeaderValue {
        var s = AuthScanner(bytes, limits: limits)
        try s.skipWhitespace()
        guard !s.atEnd else { throw .empty }
        guard let scheme = s.token(maxLength: AuthGrammar.maxNameLength) else { throw .invalidScheme }
        var result = AuthHeaderValue(scheme: scheme)
        let sawSpace = try s.skipWhitespace()
        if s.atEnd { return result }
        guard sawSpace else { throw .missingWhitespaceAfterScheme }

        if !result.isDigest, let t68 = try s.token68ToEnd() {
            result.token68 = t68
            return result
        }

        while true {
            try s.skipWhitespace()
            guard let b = s.current else { break }
            if b == UInt8(ascii: ",") {
                s.index += 1
                continue
            }
            guard let name = s.token(maxLength: AuthGrammar.maxNameLength) else { throw .expectedParameterName }
            try s.skipWhitespace()
            guard s.current == UInt8(ascii: "=") else { throw .expectedEquals }
            s.index += 1
            try s.skipWhitespace()
            let value: String
            let quoted: Bool
            if s.current == UInt8(ascii: "\"") {
                value = try s.quotedString()
                quoted = true
            } else {
                value = try s.bareValue()
                quoted = false
            }
            // A scan of the names so far: at most `maxParameters` of them, and no set to build per header.
            if result.parameters.contains(where: { AuthGrammar.equalsIgnoringASCIICase($0.name, name) }) {
                throw .duplicateParameter(AuthGrammar.lowercasedASCII(name))
            }
            guard result.parameters.count < limits.maxParameters else { throw .tooManyParameters }
            result.parameters.append(AuthParameter(name: name, value: value, isQuoted: quoted))
            try s.skipWhitespace()
            guard let next = s.current else { break }
            guard next == UInt8(ascii: ",") else { throw .expectedComma }
            s.index += 1
        }
        return result
    }

    /// The header value as it goes on the wire: `Scheme p1=v1, p2="v2"`.
    public var serialized: String {
        // One byte buffer sized up front: a WWW-Authenticate per REGISTER challenge, so no string per piece.
        var out: [UInt8] = []
        out.reserveCapacity(scheme.utf8.count + (token68?.utf8.count ?? 0)
                            + parameters.reduce(1) { $0 + $1.name.utf8.count + $1.value.utf8.count + 6 })
        AuthGrammar.appendSanitizedToken(scheme, to: &out)
        if let token68 {
            out.append(UInt8(ascii: " "))
            for b in token68.utf8 where AuthGrammar.isToken68Byte(b) || b == UInt8(ascii: "=") { out.append(b) }
        } else {
            for (i, p) in parameters.enumerated() {
                if i == 0 { out.append(UInt8(ascii: " ")) } else { out.append(UInt8(ascii: ",")); out.append(UInt8(ascii: " ")) }
                AuthGrammar.appendSanitizedToken(p.name, to: &out)
                out.append(UInt8(ascii: "="))
                if !p.isQuoted, AuthGrammar.isToken(p.value) {
                    out.append(contentsOf: p.value.utf8)
                } else {
                    AuthGrammar.appendQuoted(p.value, to: &out)
                }
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    public var description: String { serialized }
}
