/// Why bytes could not be turned into a SIP message (or a header value into a typed view).
///
/// `statusCode` is the response a server should send when the input was a request (400 Bad Request,
/// 413/513 too large, 416 Unsupported URI Scheme, 501 Not Implemented, 505 Version Not Supported);
/// `reason` is short enough for a Reason-Phrase and names the offending element ("Bad Header: CSeq").
public struct SIPParseError: Error, Sendable, Hashable, CustomStringConvertible {
    public var statusCode: Int
    public var reason: String
    /// The canonical (long-form) name of the header at fault, when one is.
    public var headerName: String?
    /// The request as far as its start line and header lines could be split, so that a server can still
    /// answer (RFC 3261 §8.2.6) when Via/From/To/Call-ID/CSeq are usable. Nil for responses and garbage.
    public var request: SIPRequest?

    public init(statusCode: Int = 400, reason: String, headerName: String? = nil, request: SIPRequest? = nil) {
        self.statusCode = statusCode
        self.reason = reason
        self.headerName = headerName
        self.request = request
    }

    public var description: String { "\(statusCode) \(reason)" }

    static func badHeader(_ name: String) -> SIPParseError {
        SIPParseError(reason: "Bad Header: \(name)", headerName: name)
    }
    static func missingHeader(_ name: String) -> SIPParseError {
        SIPParseError(reason: "Missing Header: \(name)", headerName: name)
    }
    static func duplicateHeader(_ name: String) -> SIPParseError {
        SIPParseError(reason: "Duplicate Header: \(name)", headerName: name)
    }
    static func malformed(_ what: String) -> SIPParseError {
        SIPParseError(reason: "Malformed \(what)")
    }
}
