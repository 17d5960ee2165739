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

    /// `Method SP Request-URI SP SIP-Version CRLF`, the headers in order, Content-Length = body.count, CRLF, body.
    public func serialized() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512 + body.count)
        SIPSerializer.append(&out, method.rawValue)
        out.append(0x20)
        SIPSerializer.append(&out, requestURI)
        out.append(0x20)
        SIPSerializer.appendLine(&out, version)
        SIPSerializer.appendHeadersAndBody(&out, headers, body)
        return out
    }

    /// Builds a response per RFC 3261 §8.2.6.2: Via (all, in order), From, To, Call-ID and CSeq copied; a To tag
    /// added when `toTag` is given, the To has none and the response is not 100; Timestamp copied into 100
    /// (§8.2.6.1); `Content-Length: 0`, no body.
    public func makeResponse(statusCode: Int, reasonPhrase: String? = nil, toTag: String? = nil) -> SIPResponse {
        // One pass over the request's fields picks up what §8.2.6.2 copies; the response is built in
        // the order Via..., From, To, Call-ID, CSeq (Timestamp on a 100, §8.2.6.1).
        var fields: [SIPHeader] = []
        fields.reserveCapacity(8)
        var from: String?, toField: SIPHeader?, callID: String?, cseq: String?, timestamp: String?
        for field in headers.fields {
            switch field.canonicalName {
            case "via":
                var via = SIPHeader(name: "Via", value: field.value)
                via.parsed = field.parsed  // the same text: its parse serves response routing too
                fields.append(via)
            case "from": if from == nil { from = field.value }
            case "to": if toField == nil { toField = field }
            case "call-id": if callID == nil { callID = field.value }
            case "cseq": if cseq == nil { cseq = field.value }
            case "timestamp": if timestamp == nil { timestamp = field.value }
            default: break
            }
        }
        if let from { fields.append(SIPHeader(name: "From", value: from)) }
        if let toField {
            var to = toField.value
            if let toTag, statusCode != 100, var parsed = toField.nameAddr, parsed.tag == nil {
                if parsed.parameters["tag"] == nil {
                    to = SIPGrammar.trimWSP(to) + ";tag=" + toTag
                } else {
                    // A bare `;tag` (only in a request refused with 400): set ours in its place, not a second one.
                    parsed.tag = toTag
                    to = parsed.description
                }
            }
            fields.append(SIPHeader(name: "To", value: to))
        }
        if let callID { fields.append(SIPHeader(name: "Call-ID", value: callID)) }
        if let cseq { fields.append(SIPHeader(name: "CSeq", value: cseq)) }
        if statusCode == 100, let timestamp { fields.append(SIPHeader(name: "Timestamp", value: timestamp)) }
        fields.append(SIPHeader(name: "Content-Length", value: "0"))
        return SIPResponse(statusCode: statusCode, reasonPhrase: reasonPhrase, headers: SIPHeaders(fields))
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

    /// `SIP-Version SP Status-Code SP Reason-Phrase CRLF`, headers, Content-Length = body.count, CRLF, body.
    public func serialized() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512 + body.count)
        SIPSerializer.append(&out, version)
        out.append(0x20)
        SIPSerializer.appendDecimal(&out, statusCode)
        out.append(0x20)
        SIPSerializer.appendLine(&out, reasonPhrase)
        SIPSerializer.appendHeadersAndBody(&out, headers, body)
        return out
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
    public var request: SIPRequest? { if case .request(let r) = self { r } else { nil } }
    public var response: SIPResponse? { if case .response(let r) = self { r } else { nil } }
    public var isRequest: Bool { request != nil }

    public func serialized() -> [UInt8] {
        switch self {
        case .request(let r): r.serialized()
        case .response(let r): r.serialized()
        }
    }
}

enum SIPSerializer {
    /// Appends `text` + CRLF; CR and LF inside `text` become SP so that no value can inject a header line.
    static func appendLine(_ out: inout [UInt8], _ text: String) {
        append(&out, text)
        out.append(0x0D)
        out.append(0x0A)
    }

    /// `Name: value` CRLF, written piece by piece: no concatenated String per header line.
    static func appendField(_ out: inout [UInt8], _ name: String, _ value: String) {
        append(&out, name)
        out.append(UInt8(ascii: ":"))
        out.append(0x20)
        appendLine(&out, value)
    }

    /// `text` with CR and LF replaced by SP; copied in one go when it has neither (the usual case).
    static func append(_ out: inout [UInt8], _ text: String) {
        let done: Void? = text.utf8.withContiguousStorageIfAvailable { bytes in
            if !bytes.contains(0x0D) && !bytes.contains(0x0A) {
                out.append(contentsOf: bytes)
            } else {
                for b in bytes { out.append(b == 0x0D || b == 0x0A ? 0x20 : b) }
            }
        }
        if done == nil {
            for b in text.utf8 { out.append(b == 0x0D || b == 0x0A ? 0x20 : b) }
        }
    }

    /// A non-negative integer in decimal (negative ones through String).
    static func appendDecimal(_ out: inout [UInt8], _ value: Int) {
        guard value >= 0 else { append(&out, String(value)); return }
        var divisor = 1
        while divisor <= value / 10 { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            out.append(UInt8(48 + rest / divisor))
            rest %= divisor
            divisor /= 10
        }
    }

    /// Header fields in order as `Name: value`; the first Content-Length is replaced by the body size (other
    /// Content-Length fields dropped), one is appended when missing (RFC 3261 §20.14).
    static func appendHeadersAndBody(_ out: inout [UInt8], _ headers: SIPHeaders, _ body: [UInt8]) {
        var wroteLength = false
        for field in headers {
            if field.canonicalName == "content-length" {
                if wroteLength { continue }
                wroteLength = true
                append(&out, field.name)
                out.append(UInt8(ascii: ":"))
                out.append(0x20)
                appendDecimal(&out, body.count)
                out.append(0x0D)
                out.append(0x0A)
            } else {
                appendField(&out, field.name, field.value)
            }
        }
        if !wroteLength {
            append(&out, "Content-Length: ")
            appendDecimal(&out, body.count)
            out.append(0x0D)
            out.append(0x0A)
        }
        out.append(0x0D)
        out.append(0x0A)
        out.append(contentsOf: body)
    }
}
