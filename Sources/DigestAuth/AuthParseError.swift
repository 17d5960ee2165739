/// The four SIP header fields that carry challenges and credentials (RFC 3261 §20.7, §20.27, §20.28, §20.44).
public enum AuthHeaderKind: Sendable, Hashable, CaseIterable {
    case wwwAuthenticate
    case proxyAuthenticate
    case authorization
    case proxyAuthorization

    /// The header field name as written on the wire.
    public var headerName: String {
        switch self {
        case .wwwAuthenticate: "WWW-Authenticate"
        case .proxyAuthenticate: "Proxy-Authenticate"
        case .authorization: "Authorization"
        case .proxyAuthorization: "Proxy-Authorization"
        }
    }
}

/// Why a challenge or credentials header value could not be parsed.
///
/// `reason` is short, ASCII-only and never contains CR/LF or raw input beyond a bounded token (a parameter
/// name), so it is safe inside a Reason-Phrase. `reasonPhrase(for:)` gives the phrase a registrar puts in its
/// 400 ("Malformed Authorization header").
public enum AuthParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Nothing but whitespace.
    case empty
    /// Longer than `AuthParseLimits.maxLength`.
    case tooLong
    /// More parameters than `AuthParseLimits.maxParameters`.
    case tooManyParameters
    /// The value does not start with an auth-scheme token.
    case invalidScheme
    /// The scheme is not `Digest` where Digest was required.
    case notDigest
    /// Something other than whitespace follows the scheme.
    case missingWhitespaceAfterScheme
    /// A parameter name is missing, too long or not a token.
    case expectedParameterName
    /// `name` not followed by `=`.
    case expectedEquals
    /// `name=` with no value.
    case missingValue
    /// A quoted-string without its closing quote.
    case unterminatedQuotedString
    /// A control character, bare CR/LF or other byte not allowed where it is.
    case invalidCharacter
    /// A parameter value longer than `AuthParseLimits.maxValueLength`.
    case valueTooLong
    /// Two parameters not separated by a comma.
    case expectedComma
    /// Bytes that are not UTF-8.
    case invalidUTF8
    /// The same parameter twice (names compare case-insensitively). Carries the lower-cased name.
    case duplicateParameter(String)
    /// A parameter Digest requires is absent. Carries its name.
    case missingParameter(String)
    /// A known Digest parameter has a value its grammar does not allow. Carries its name.
    case invalidParameter(String)

    /// A short explanation, e.g. "duplicate parameter nonce".
    public var reason: String {
        switch self {
        case .empty: "empty value"
        case .tooLong: "value too long"
        case .tooManyParameters: "too many parameters"
        case .invalidScheme: "invalid auth scheme"
        case .notDigest: "not a Digest scheme"
        case .missingWhitespaceAfterScheme: "missing whitespace after scheme"
        case .expectedParameterName: "expected parameter name"
        case .expectedEquals: "expected '='"
        case .missingValue: "missing parameter value"
        case .unterminatedQuotedString: "unterminated quoted string"
        case .invalidCharacter: "invalid character"
        case .valueTooLong: "parameter value too long"
        case .expectedComma: "expected ','"
        case .invalidUTF8: "invalid UTF-8"
        case .duplicateParameter(let name): "duplicate parameter \(name)"
        case .missingParameter(let name): "missing parameter \(name)"
        case .invalidParameter(let name): "invalid parameter \(name)"
        }
    }

    /// "Malformed Authorization header" and the like: what a server answers with 400.
    public func reasonPhrase(for header: AuthHeaderKind) -> String {
        "Malformed \(header.headerName) header"
    }

    public var description: String { reason }
}

/// Bounds applied while parsing, so that hostile input costs bounded time and memory.
public struct AuthParseLimits: Sendable, Hashable {
    /// Maximum length of the whole header value in bytes.
    public var maxLength: Int
    /// Maximum number of auth-params.
    public var maxParameters: Int
    /// Maximum length of one parameter value in bytes (after unescaping).
    public var maxValueLength: Int

    public init(maxLength: Int = 8192, maxParameters: Int = 32, maxValueLength: Int = 2048) {
        self.maxLength = maxLength
        self.maxParameters = maxParameters
        self.maxValueLength = maxValueLength
    }

    public static let `default` = AuthParseLimits()
}
