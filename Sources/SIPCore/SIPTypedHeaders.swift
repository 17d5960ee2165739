/// Typed, parse-on-demand views of the common header fields, shared by `SIPRequest`, `SIPResponse` and
/// `SIPMessage`. They never throw: a missing or malformed field gives nil (or an empty array). The parser has
/// already validated Via, From, To, Call-ID, CSeq, Max-Forwards, Content-Length and Contact of every parsed
/// message, so those are only nil/empty when absent or changed afterwards.
public protocol SIPTypedHeaders {
    var headers: SIPHeaders { get }
}

extension SIPTypedHeaders {
    /// Every via-parm in order. All-or-nothing: empty when any Via value is malformed (use `Via.parseAll` to
    /// learn why).
    public var vias: [Via] {
        var out: [Via] = []
        for value in headers.values("Via") {
            guard let v = try? Via(parsing: value) else { return [] }
            out.append(v)
        }
        return out
    }
    public var topVia: Via? { headers.topVia }
    public var callID: String? { headers.first("Call-ID").map(SIPGrammar.trimWSP) }
    public var cseq: CSeq? { headers.first("CSeq").flatMap { try? CSeq(parsing: $0) } }
    public var from: NameAddr? { headers.nameAddr("From") }
    public var to: NameAddr? { headers.nameAddr("To") }
    public var fromTag: String? { from?.tag }
    public var toTag: String? { to?.tag }
    /// 0...255, nil when absent or malformed.
    public var maxForwards: Int? { headers.first("Max-Forwards").flatMap { SIPGrammar.parseInteger(SIPGrammar.trimWSP($0), max: 255) } }
    /// Contact values in order; empty for `Contact: *` (see `isContactWildcard`) and when any value is malformed.
    public var contacts: [NameAddr] { headers.parsedNameAddrs("Contact") ?? Self.nameAddrs(headers.values("Contact")) }
    /// `Contact: *` (RFC 3261 §10.2.2, REGISTER removing all bindings).
    public var isContactWildcard: Bool {
        let values = headers.values("Contact")
        return values.count == 1 && SIPGrammar.trimWSP(values[0]) == "*"
    }
    public var routes: [NameAddr] { Self.nameAddrs(headers.values("Route")) }
    public var recordRoutes: [NameAddr] { Self.nameAddrs(headers.values("Record-Route")) }
    /// Expires delta-seconds (RFC 3261 §20.19), nil when absent or not a number ≤ 2^32-1.
    public var expires: Int? { headers.first("Expires").flatMap { SIPGrammar.parseInteger(SIPGrammar.trimWSP($0), max: Int(UInt32.max)) } }
    /// The Content-Type value as written (media type and parameters).
    public var contentType: String? { headers.first("Content-Type").map(SIPGrammar.trimWSP) }
    /// `type/subtype` of Content-Type, lower-cased, without parameters.
    public var mediaType: String? {
        guard let ct = contentType else { return nil }
        // The media type ends at the first ";" byte (RFC 3261 §25 m-type "/" m-subtype *(SEMI m-parameter)).
        let base = ByteSplitter.split(ct, on: UInt8(ascii: ";"), maxSplits: 1, omittingEmptySubsequences: false).first ?? Substring(ct)
        return SIPGrammar.lowercasedASCII(String(decoding: base.utf8.filter { !SIPGrammar.isWSP($0) }, as: UTF8.self))
    }
    public var contentLength: Int? { headers.first("Content-Length").flatMap { SIPGrammar.parseInteger(SIPGrammar.trimWSP($0), max: Int(Int32.max)) } }
    /// Option tags (RFC 3261 §20.32, §20.29, §20.37).
    public var require: [String] { headers.values("Require") }
    public var proxyRequire: [String] { headers.values("Proxy-Require") }
    public var supported: [String] { headers.values("Supported") }

    static func nameAddrs(_ values: [String]) -> [NameAddr] {
        var out: [NameAddr] = []
        for value in values {
            guard let n = try? NameAddr(parsing: value) else { return [] }
            out.append(n)
        }
        return out
    }
}

extension SIPRequest: SIPTypedHeaders {
    /// The parsed Request-URI, nil when it does not parse.
    public var uri: URI? { try? URI(parsing: requestURI) }
}
extension SIPResponse: SIPTypedHeaders {}
extension SIPMessage: SIPTypedHeaders {}
