/// A quick look at a request's raw bytes: enough to decide admission control and to answer it
/// statelessly, without the full parse.
///
/// Overload control must refuse excess for much less than it costs to serve it, or refusing 2x the
/// capacity eats the capacity (RFC 6357 §5). The full parser builds every header; this scanner only
/// finds the request line, the headers a response copies (RFC 3261 §8.2.6.2: Via, From, To, Call-ID,
/// CSeq), whether To has a tag and whether credentials are present. Anything it is not sure about
/// (folded lines, a missing mandatory header, a response) yields nil, and the caller falls back to the
/// full parse, so the scanner never decides on a message it misread.
public struct RequestGlance: Sendable {
    public let method: SIPMethod
    public let hasToTag: Bool
    /// An `Authorization` or `Proxy-Authorization` header is present.
    public let hasCredentials: Bool
    /// The top Via's branch parameter and sent-by (host[:port], lower-cased), when present.
    public let branch: String?
    public let sentBy: String
    private let bytes: [UInt8]
    /// Header lines a response copies, as byte ranges of `bytes` without the line end, in order.
    private let viaLines: [Range<Int>]
    private let from: Range<Int>
    private let to: Range<Int>
    private let callID: Range<Int>
    private let cseq: Range<Int>

    public init?(_ bytes: [UInt8]) {
        let n = bytes.count
        // Request line: METHOD SP Request-URI SP SIP/2.0
        var i = 0
        while i < n, bytes[i] == 0x0D || bytes[i] == 0x0A { i += 1 }   // RFC 3261 §7.5 leading CRLFs
        let methodStart = i
        while i < n, bytes[i] != 0x20 { guard SIPGrammar.token.contains(bytes[i]) else { return nil }; i += 1 }
        guard i < n, i > methodStart else { return nil }
        let methodText = String(decoding: bytes[methodStart..<i], as: UTF8.self)
        if methodText == "SIP/2.0" { return nil }   // a response
        guard let lineEnd = Self.lineEnd(bytes, from: i) else { return nil }
        i = lineEnd.next
        var via: [Range<Int>] = [], from: Range<Int>?, to: Range<Int>?, callID: Range<Int>?, cseq: Range<Int>?
        var credentials = false
        while true {
            guard let end = Self.lineEnd(bytes, from: i) else { return nil }
            if end.contentEnd == i { break }   // the empty line ending the headers
            if SIPGrammar.isWSP(bytes[i]) { return nil }   // folded: leave it to the parser
            var c = i
            while c < end.contentEnd, bytes[c] != 0x3A { c += 1 }
            guard c < end.contentEnd else { return nil }
            var nameEnd = c
            while nameEnd > i, SIPGrammar.isWSP(bytes[nameEnd - 1]) { nameEnd -= 1 }
            let line = i..<end.contentEnd
            switch Self.name(bytes, i..<nameEnd) {
            case .via: via.append(line)
            case .from: guard from == nil else { return nil }; from = line
            case .to: guard to == nil else { return nil }; to = line
            case .callID: guard callID == nil else { return nil }; callID = line
            case .cseq: guard cseq == nil else { return nil }; cseq = line
            case .credentials: credentials = true
            case .other: break
            }
            i = end.next
        }
        guard let firstVia = via.first, let from, let to, let callID, let cseq else { return nil }
        self.bytes = bytes
        self.viaLines = via
        self.from = from
        self.to = to
        self.callID = callID
        self.cseq = cseq
        self.method = SIPMethod(methodText)
        self.hasCredentials = credentials
        self.hasToTag = Self.hasTag(bytes, to)
        guard let top = Self.topVia(bytes, firstVia) else { return nil }
        self.sentBy = top.sentBy
        self.branch = top.branch
    }

    /// A stateless final response (RFC 3261 §8.2.6): the Via, From, To (with `toTag` added when it
    /// has none), Call-ID and CSeq lines copied as received, then `extraHeaders`, no body.
    public func response(status: Int, reason: String, toTag: String, extraHeaders: [(String, String)] = []) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(viaLines.reduce(0) { $0 + $1.count } + 300)
        out.append(contentsOf: "SIP/2.0 \(status) \(reason)\r\n".utf8)
        for line in viaLines { out.append(contentsOf: bytes[line]); out.append(contentsOf: [0x0D, 0x0A]) }
        out.append(contentsOf: bytes[from]); out.append(contentsOf: [0x0D, 0x0A])
        out.append(contentsOf: bytes[to])
        if !hasToTag { out.append(contentsOf: ";tag=\(toTag)".utf8) }
        out.append(contentsOf: [0x0D, 0x0A])
        out.append(contentsOf: bytes[callID]); out.append(contentsOf: [0x0D, 0x0A])
        out.append(contentsOf: bytes[cseq]); out.append(contentsOf: [0x0D, 0x0A])
        for (name, value) in extraHeaders { out.append(contentsOf: "\(name): \(value)\r\n".utf8) }
        out.append(contentsOf: "Content-Length: 0\r\n\r\n".utf8)
        return out
    }

    // MARK: scanning

    private enum Name { case via, from, to, callID, cseq, credentials, other }

    private static func name(_ b: [UInt8], _ r: Range<Int>) -> Name {
        // Long and compact forms (RFC 3261 §7.3.3), case-insensitive.
        func equals(_ s: StaticString) -> Bool {
            guard r.count == s.utf8CodeUnitCount else { return false }
            let p = s.utf8Start
            for k in 0..<r.count where b[r.lowerBound + k] | 0x20 != p[k] { return false }
            return true
        }
        switch r.count {
        case 1:
            switch b[r.lowerBound] | 0x20 {
            case UInt8(ascii: "v"): return .via
            case UInt8(ascii: "f"): return .from
            case UInt8(ascii: "t"): return .to
            case UInt8(ascii: "i"): return .callID
            default: return .other
            }
        case 2: return equals("to") ? .to : .other
        case 3: return equals("via") ? .via : .other
        case 4: return equals("from") ? .from : (equals("cseq") ? .cseq : .other)
        case 7: return equals("call-id") ? .callID : .other
        case 13: return equals("authorization") ? .credentials : .other
        case 19: return equals("proxy-authorization") ? .credentials : .other
        default: return .other
        }
    }

    /// `;tag=` in the To header's parameters (outside the <URI>, outside quotes).
    private static func hasTag(_ b: [UInt8], _ line: Range<Int>) -> Bool {
        var i = line.lowerBound
        while i < line.upperBound, b[i] != 0x3A { i += 1 }
        var inQuotes = false, inAngle = false
        while i < line.upperBound {
            let c = b[i]
            if inQuotes {
                if c == 0x5C { i += 1 } else if c == 0x22 { inQuotes = false }
            } else if c == 0x22 { inQuotes = true
            } else if c == 0x3C { inAngle = true
            } else if c == 0x3E { inAngle = false
            } else if c == 0x3B, !inAngle, valueStart(of: "tag", in: b, after: i, end: line.upperBound) != nil {
                return true
            }
            i += 1
        }
        return false
    }

    /// sent-by and branch of the first Via value: `Via: SIP/2.0/UDP host:port;branch=z9hG4bK...`.
    private static func topVia(_ b: [UInt8], _ line: Range<Int>) -> (sentBy: String, branch: String?)? {
        let end = line.upperBound
        var i = line.lowerBound
        while i < end, b[i] != 0x3A { i += 1 }
        i += 1
        // Skip "SIP / 2.0 / UDP" (three slash-separated tokens, LWS allowed around the slashes).
        var slashes = 0
        while i < end, slashes < 2 { if b[i] == 0x2F { slashes += 1 }; i += 1 }
        i = skipWSP(b, from: i, end: end)
        while i < end, SIPGrammar.token.contains(b[i]) { i += 1 }          // transport
        i = skipWSP(b, from: i, end: end)
        let hostStart = i
        while i < end, b[i] != 0x3B, b[i] != 0x2C, !SIPGrammar.isWSP(b[i]) { i += 1 }
        guard i > hostStart, slashes == 2 else { return nil }
        let sentBy = String(decoding: b[hostStart..<i].map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
        var branch: String?
        while i < end, b[i] != 0x2C {
            if b[i] == 0x3B, let s = valueStart(of: "branch", in: b, after: i, end: end) {
                var e = s
                while e < end, SIPGrammar.token.contains(b[e]) { e += 1 }
                branch = String(decoding: b[s..<e], as: UTF8.self)
            }
            i += 1
        }
        return (sentBy, branch)
    }

    /// Where the value of parameter `name` starts, when the `;` at `semicolon` opens it
    /// (`; NAME = value`, name case-insensitive, LWS allowed around `=`); nil for another parameter.
    private static func valueStart(of name: StaticString, in b: [UInt8], after semicolon: Int, end: Int) -> Int? {
        let k = skipWSP(b, from: semicolon + 1, end: end)
        let n = name.utf8CodeUnitCount
        guard k + n <= end else { return nil }
        for j in 0..<n where b[k + j] | 0x20 != name.utf8Start[j] { return nil }
        let e = skipWSP(b, from: k + n, end: end)
        guard e < end, b[e] == 0x3D else { return nil }
        return skipWSP(b, from: e + 1, end: end)
    }

    private static func skipWSP(_ b: [UInt8], from i: Int, end: Int) -> Int {
        var i = i
        while i < end, SIPGrammar.isWSP(b[i]) { i += 1 }
        return i
    }

    /// End of the line starting at `i`: where its content stops and where the next line starts.
    private static func lineEnd(_ b: [UInt8], from i: Int) -> (contentEnd: Int, next: Int)? {
        var k = i
        while k < b.count {
            if b[k] == 0x0A { return (k > i && b[k - 1] == 0x0D ? k - 1 : k, k + 1) }
            k += 1
        }
        return nil
    }
}
