/// A SIP request (RFC 3261 §7.1).
public struct SIPRequest: Sendable, Hashable {
    public var method: SIPMethod
    /// The Request-URI exactly as it appeared on the request line.
    public var requestURI: String
    public var version: String
    public var headers: SIPHeaders
    public var body: [UInt8]

    public init(method: SIPMethod, requestURI: String, version: String = "SIP/2.0", headers: SIPHeaders = SIPHeaders(), body: [UInt8] = []) {
        self.method = method
        self.requestURI = requestURI
        self.version = version
        self.headers = headers
        self.body = body
    }
}

/// A SIP response (RFC 3261 §7.2).
public struct SIPResponse: Sendable, Hashable {
    public var statusCode: Int
    public var reasonPhrase: String
    public var version: String
    public var headers: SIPHeaders
    public var body: [UInt8]

    public init(statusCode: Int, reasonPhrase: String? = nil, version: String = "SIP/2.0", headers: SIPHeaders = SIPHeaders(), body: [UInt8] = []) {
        self.statusCode = statusCode
        self.reasonPhrase = reasonPhrase ?? SIPStatus.defaultReason(statusCode)
        self.version = version
        self.headers = headers
        self.body = body
    }
}

public enum SIPMessage: Sendable, Hashable {
    case request(SIPRequest)
    case response(SIPResponse)

    public var headers: SIPHeaders {
        get { switch self { case .request(let r): r.headers; case .response(let r): r.headers } }
        set {
            switch self {
            case .request(var r): r.headers = newValue; self = .request(r)
            case .response(var r): r.headers = newValue; self = .response(r)
            }
        }
    }
    public var body: [UInt8] { switch self { case .request(let r): r.body; case .response(let r): r.body } }
}
