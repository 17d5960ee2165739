/// A From/To/Contact/Route-style value: name-addr (`"Bob" <sip:b@x>;tag=1`) or addr-spec (`sip:b@x;tag=1`)
/// followed by header parameters (RFC 3261 §20.10, §25.1).
public struct NameAddr: Sendable, Hashable, CustomStringConvertible {
    /// Unquoted, quoted-pair escapes resolved; nil when there was none. A token display name keeps its spacing.
    public var displayName: String?
    public var uri: URI
    /// Header parameters (after the `>` or, for an addr-spec, after the URI). Values are kept as written:
    /// a quoted value keeps its quotes.
    public var parameters: SIPParameters

    public init(displayName: String? = nil, uri: URI, parameters: SIPParameters = SIPParameters()) {
        self.displayName = displayName
        self.uri = uri
        self.parameters = parameters
    }

    public init(parsing text: String) throws(SIPParseError) {
        var c = ByteCursor(text)
        c.skipWSP()
        var display: String? = nil
        var angle = false
        if c.peek == UInt8(ascii: "\"") {
            guard let q = c.takeQuotedString() else { throw .malformed("display name") }
            display = SIPGrammar.string(q.value)
            c.skipWSP()
            guard c.peek == UInt8(ascii: "<") else { throw .malformed("name-addr") }
            angle = true
        } else {
            // display-name = *(token LWS): a run of tokens directly followed by "<" is a name-addr.
            let save = c.index
            var lastTokenEnd = save
            while c.takeToken() != nil {
                lastTokenEnd = c.index
                c.skipWSP()
            }
            if c.peek == UInt8(ascii: "<") {
                angle = true
                if lastTokenEnd > save { display = SIPGrammar.string(c.bytes[save..<lastTokenEnd]) }
            } else {
                c.index = save
            }
        }
        if angle {
            _ = c.consume(UInt8(ascii: "<"))
            // LAQUOT/RAQUOT: no whitespace inside the brackets (RFC 4475 §3.1.2.14).
            guard let gt = c.rest.firstIndex(of: UInt8(ascii: ">")) else { throw .malformed("name-addr") }
            uri = try URI(parsing: SIPGrammar.string(c.bytes[c.index..<gt]))
            c.index = gt + 1
        } else {
            // addr-spec: the URI ends at the first ";" (those are header parameters, §20.10); a URI containing
            // "," or "?" must have been put in angle brackets (§20).
            let start = c.index
            while let b = c.peek, b != UInt8(ascii: ";") { c.index += 1 }
            let spec = SIPGrammar.trimWSP(c.bytes[start..<c.index])
            guard !spec.contains(UInt8(ascii: ",")), !spec.contains(UInt8(ascii: "?")) else {
                throw .malformed("addr-spec")
            }
            uri = try URI(parsing: SIPGrammar.string(spec))
        }
        displayName = display
        guard let params = c.parseParameters() else { throw .malformed("header parameters") }
        parameters = params
        c.skipWSP()
        guard c.isAtEnd else { throw .malformed("name-addr") }
    }

    /// Always the name-addr form, display name quoted.
    public var description: String {
        var s = ""
        if let displayName { s += NameAddr.quote(displayName) + " " }
        return s + "<" + uri.description + ">" + parameters.headerParameterText
    }

    static func quote(_ text: String) -> String {
        var out: [UInt8] = [UInt8(ascii: "\"")]
        for b in text.utf8 {
            switch b {
            case 0x0D, 0x0A: out.append(0x20) // cannot be represented in a quoted-string
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), 0x00...0x08, 0x0B...0x1F, 0x7F:
                out.append(UInt8(ascii: "\\")); out.append(b)
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
        return SIPGrammar.string(out)
    }

    public var tag: String? {
        get { parameters["tag"].flatMap { $0 } }
        set { if let newValue { parameters.set("tag", newValue) } else { parameters.remove("tag") } }
    }
    /// Contact `expires` parameter (RFC 3261 §20.10) when it is a valid delta-seconds (≤ 2^32-1).
    public var expires: Int? { parameters["expires"].flatMap { $0 }.flatMap { SIPGrammar.parseInteger($0, max: Int(UInt32.max)) } }
    /// Contact `q` parameter (qvalue, 0...1).
    public var q: Double? {
        guard let v = parameters["q"].flatMap({ $0 }), let d = Double(v), d >= 0, d <= 1 else { return nil }
        return d
    }
}
