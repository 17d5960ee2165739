/// One via-parm of a Via header field (RFC 3261 §20.42, §25.1; rport from RFC 3581).
public struct Via: Sendable, Hashable, CustomStringConvertible {
    public var protocolName: String
    public var protocolVersion: String
    /// Upper-cased ("UDP", "TCP", "TLS", "SCTP", "WS", ...).
    public var transport: String
    /// As written; an IPv6 reference keeps its brackets.
    public var host: String
    public var port: Int?
    /// Values are kept as written.
    public var parameters: SIPParameters

    public static let magicCookie = "z9hG4bK"

    public init(transport: String, host: String, port: Int? = nil, branch: String? = nil,
                parameters: SIPParameters = SIPParameters(), protocolName: String = "SIP", protocolVersion: String = "2.0") {
        self.protocolName = protocolName
        self.protocolVersion = protocolVersion
        self.transport = transport.uppercased()
        self.host = host
        self.port = port
        self.parameters = parameters
        if let branch { self.branch = branch }
    }

    /// Parses one via-parm: `sent-protocol LWS sent-by *( SEMI via-params )`, LWS allowed around "/" and ":".
    public init(parsing text: String) throws(SIPParseError) {
        var c = ByteCursor(text)
        c.skipWSP()
        guard let name = c.takeToken() else { throw .badHeader("Via") }
        c.skipWSP()
        guard c.consume(UInt8(ascii: "/")) else { throw .badHeader("Via") }
        c.skipWSP()
        guard let version = c.takeToken() else { throw .badHeader("Via") }
        c.skipWSP()
        guard c.consume(UInt8(ascii: "/")) else { throw .badHeader("Via") }
        c.skipWSP()
        guard let transport = c.takeToken() else { throw .badHeader("Via") }
        let beforeLWS = c.index
        c.skipWSP()
        guard c.index > beforeLWS else { throw .badHeader("Via") }
        let hostStart = c.index
        if c.peek == UInt8(ascii: "[") {
            guard let close = c.rest.firstIndex(of: UInt8(ascii: "]")) else { throw .badHeader("Via") }
            c.index = close + 1
        } else {
            _ = c.take(while: SIPGrammar.hostChar)
        }
        let hostBytes = c.bytes[hostStart..<c.index]
        guard SIPGrammar.isValidHost(hostBytes) else { throw .badHeader("Via") }
        var port: Int? = nil
        let afterHost = c.index
        c.skipWSP()
        if c.consume(UInt8(ascii: ":")) {
            c.skipWSP()
            guard let p = SIPGrammar.parseInteger(c.take(while: SIPGrammar.digit), max: 65535) else { throw .badHeader("Via") }
            port = p
        } else {
            c.index = afterHost
        }
        guard let params = c.parseParameters() else { throw .badHeader("Via") }
        c.skipWSP()
        guard c.isAtEnd else { throw .badHeader("Via") }
        self.protocolName = SIPGrammar.string(name)
        self.protocolVersion = SIPGrammar.string(version)
        self.transport = SIPGrammar.string(transport).uppercased()
        self.host = SIPGrammar.string(hostBytes)
        self.port = port
        self.parameters = params
        // via-ttl = 0-255, via-maddr / via-received / via-branch need a value, response-port = 1*DIGIT (RFC 3581).
        if let t = params["ttl"] { guard let t, SIPGrammar.parseInteger(t, max: 255) != nil else { throw .badHeader("Via") } }
        for p in ["branch", "received", "maddr"] {
            if let v = params[p] { guard v != nil else { throw .badHeader("Via") } }
        }
        if let r = params["rport"], let r { guard SIPGrammar.parseInteger(r, max: 65535) != nil else { throw .badHeader("Via") } }
    }

    /// Every via-parm of a (possibly comma-joined) Via header value.
    public static func parseAll(_ value: String) throws(SIPParseError) -> [Via] {
        var out: [Via] = []
        for part in HeaderValueSplitter.split(value) { out.append(try Via(parsing: part)) }
        return out
    }

    public var description: String {
        "\(protocolName)/\(protocolVersion)/\(transport) \(sentBy)" + parameters.headerParameterText
    }

    /// `host[:port]`.
    public var sentBy: String { port.map { "\(host):\($0)" } ?? host }

    public var branch: String? {
        get { parameters["branch"].flatMap { $0 } }
        set { if let newValue { parameters.set("branch", newValue) } else { parameters.remove("branch") } }
    }
    /// RFC 3261 §8.1.1.7: the branch starts with "z9hG4bK", so the transaction id is the branch (§17.2.3).
    public var hasMagicCookie: Bool { branch?.hasPrefix(Via.magicCookie) ?? false }
    /// The cookie followed by an actual identifier (RFC 4475 §3.2.1: a bare "z9hG4bK" is not one).
    public var hasRFC3261TransactionID: Bool { hasMagicCookie && (branch?.utf8.count ?? 0) > Via.magicCookie.utf8.count }
    public var received: String? {
        get { parameters["received"].flatMap { $0 } }
        set { if let newValue { parameters.set("received", newValue) } else { parameters.remove("received") } }
    }
    /// The `rport` value (RFC 3581 §4); nil when absent or present without a value.
    public var rport: Int? {
        get { parameters["rport"].flatMap { $0 }.flatMap { SIPGrammar.parseInteger($0, max: 65535) } }
        set { parameters.set("rport", newValue.map(String.init)) }
    }
    /// Whether `rport` is present at all (a client asking for symmetric response routing, RFC 3581 §3).
    public var hasRPort: Bool {
        get { parameters.contains("rport") }
        set {
            if newValue { if !parameters.contains("rport") { parameters.set("rport", nil) } } else { parameters.remove("rport") }
        }
    }
    public var maddr: String? {
        get { parameters["maddr"].flatMap { $0 } }
        set { if let newValue { parameters.set("maddr", newValue) } else { parameters.remove("maddr") } }
    }
    public var ttl: Int? {
        get { parameters["ttl"].flatMap { $0 }.flatMap { SIPGrammar.parseInteger($0, max: 255) } }
        set { if let newValue { parameters.set("ttl", String(newValue)) } else { parameters.remove("ttl") } }
    }
}
