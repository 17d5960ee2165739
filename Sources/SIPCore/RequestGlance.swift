#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A quick look at a request's raw bytes: enough to decide admission control and to answer it
/// statelessly, without the full parse.
///
/// Overload control must refuse excess for much less than it costs to serve it, or refusing 2x the
/// capacity eats the capacity (RFC 6357 §5). The full parser builds every header; this scanner only
/// finds the request line, the headers a response copies (RFC 3261 §8.2.6.2: Via, From, To, Call-ID,
/// CSeq), whether To has a tag and whether credentials are present. Anything it is not sure about
/// (folded lines, a missing mandatory header, a response) yields nil, and the caller falls back to the
/// full parse, so the scanner never decides on a message it misread.
///
/// It runs on every datagram, so it scans through one unsafe buffer pointer with `memchr` for line
/// ends: each index is checked against the line's or the message's end by hand instead.
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
        guard let scan = bytes.withUnsafeBufferPointer({ Scan($0) }) else { return nil }
        self.bytes = bytes
        self.method = scan.method
        self.hasToTag = scan.hasToTag
        self.hasCredentials = scan.hasCredentials
        self.branch = scan.branch
        self.sentBy = scan.sentBy
        self.viaLines = scan.via
        self.from = scan.from
        self.to = scan.to
        self.callID = scan.callID
        self.cseq = scan.cseq
    }

    /// A stateless final response (RFC 3261 §8.2.6): the Via, From, To (with `toTag` added when it
    /// has none), Call-ID and CSeq lines copied as received, then `extraHeaders`, no body.
    public func response(status: Int, reason: String, toTag: String, extraHeaders: [(String, String)] = []) -> [UInt8] {
        response(StatelessAnswer(status: status, reason: reason, extraHeaders: extraHeaders), toTag: toTag)
    }

    /// `answer` for this request. Without `toTag`, the To tag is ``statelessTag``: the same for a
    /// retransmission, as §8.2.7 asks of tags generated statelessly.
    public func response(_ answer: StatelessAnswer, toTag: String? = nil) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(answer.head.count + answer.tail.count + viaLines.reduce(0) { $0 + $1.count + 2 }
                            + from.count + to.count + callID.count + cseq.count + 32)
        out.append(contentsOf: answer.head)
        bytes.withUnsafeBufferPointer { b in
            func line(_ r: Range<Int>) {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: b[r]))
                out.append(0x0D); out.append(0x0A)
            }
            for via in viaLines { line(via) }
            line(from)
            out.append(contentsOf: UnsafeBufferPointer(rebasing: b[to]))
            if !hasToTag {
                out.append(contentsOf: ";tag=".utf8)
                if let toTag { out.append(contentsOf: toTag.utf8) } else { Self.appendTag(statelessTagValue, to: &out) }
            }
            out.append(0x0D); out.append(0x0A)
            line(callID)
            line(cseq)
        }
        out.append(contentsOf: answer.tail)
        return out
    }

    /// The To tag a stateless answer gets: 50 bits of a keyed hash (`Hasher` is seeded per process)
    /// of the From, Call-ID, CSeq and top Via lines, as ten base-32 digits (0-9, a-v).
    public var statelessTag: String {
        var out: [UInt8] = []
        Self.appendTag(statelessTagValue, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private var statelessTagValue: UInt64 {
        var hasher = Hasher()
        bytes.withUnsafeBufferPointer { b in
            hasher.combine(bytes: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: b[from])))
            hasher.combine(bytes: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: b[callID])))
            hasher.combine(bytes: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: b[cseq])))
            hasher.combine(bytes: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: b[viaLines[0]])))
        }
        return UInt64(UInt(bitPattern: hasher.finalize()))
    }

    private static func appendTag(_ value: UInt64, to out: inout [UInt8]) {
        var shift: UInt64 = 45
        while true {
            let d = UInt8(truncatingIfNeeded: (value >> shift) & 31)
            out.append(d < 10 ? 0x30 + d : 0x57 + d)
            if shift == 0 { break }
            shift -= 5
        }
    }

    // MARK: scanning

    /// What one pass over the bytes found.
    private struct Scan {
        var method: SIPMethod
        var hasToTag: Bool
        var hasCredentials = false
        var branch: String?
        var sentBy: String
        var via: [Range<Int>] = []
        var from: Range<Int>
        var to: Range<Int>
        var callID: Range<Int>
        var cseq: Range<Int>

        init?(_ b: UnsafeBufferPointer<UInt8>) {
            let n = b.count
            // Request line: METHOD SP Request-URI SP SIP/2.0
            var i = 0
            while i < n, b[i] == 0x0D || b[i] == 0x0A { i += 1 }   // RFC 3261 §7.5 leading CRLFs
            let methodStart = i
            while i < n, b[i] != 0x20 { guard SIPGrammar.token.contains(b[i]) else { return nil }; i += 1 }
            guard i < n, i > methodStart else { return nil }
            let methodText = String(decoding: UnsafeBufferPointer(rebasing: b[methodStart..<i]), as: UTF8.self)
            if methodText == "SIP/2.0" { return nil }   // a response
            guard let lineEnd = RequestGlance.lineEnd(b, from: i) else { return nil }
            i = lineEnd.next
            var via: [Range<Int>] = [], from: Range<Int>?, to: Range<Int>?, callID: Range<Int>?, cseq: Range<Int>?
            via.reserveCapacity(2)
            var credentials = false
            while true {
                guard let end = RequestGlance.lineEnd(b, from: i) else { return nil }
                if end.contentEnd == i { break }   // the empty line ending the headers
                if SIPGrammar.isWSP(b[i]) { return nil }   // folded: leave it to the parser
                guard let c = RequestGlance.find(0x3A, in: b, from: i, to: end.contentEnd) else { return nil }
                var nameEnd = c
                while nameEnd > i, SIPGrammar.isWSP(b[nameEnd - 1]) { nameEnd -= 1 }
                let line = i..<end.contentEnd
                switch RequestGlance.name(b, i..<nameEnd) {
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
            guard let firstVia = via.first, let from, let to, let callID, let cseq,
                  let top = RequestGlance.topVia(b, firstVia) else { return nil }
            self.method = SIPMethod(methodText)
            self.hasToTag = RequestGlance.hasTag(b, to)
            self.hasCredentials = credentials
            self.branch = top.branch
            self.sentBy = top.sentBy
            self.via = via
            self.from = from
            self.to = to
            self.callID = callID
            self.cseq = cseq
        }
    }

    private enum Name { case via, from, to, callID, cseq, credentials, other }

    private static func name(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Name {
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
    private static func hasTag(_ b: UnsafeBufferPointer<UInt8>, _ line: Range<Int>) -> Bool {
        var i = find(0x3A, in: b, from: line.lowerBound, to: line.upperBound) ?? line.upperBound
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
    private static func topVia(_ b: UnsafeBufferPointer<UInt8>, _ line: Range<Int>) -> (sentBy: String, branch: String?)? {
        let end = line.upperBound
        var i = (find(0x3A, in: b, from: line.lowerBound, to: end) ?? end) + 1
        // Skip "SIP / 2.0 / UDP" (three slash-separated tokens, LWS allowed around the slashes).
        var slashes = 0
        while i < end, slashes < 2 { if b[i] == 0x2F { slashes += 1 }; i += 1 }
        i = skipWSP(b, from: i, end: end)
        while i < end, SIPGrammar.token.contains(b[i]) { i += 1 }          // transport
        i = skipWSP(b, from: i, end: end)
        let hostStart = i
        var upper = false
        while i < end, b[i] != 0x3B, b[i] != 0x2C, !SIPGrammar.isWSP(b[i]) { upper = upper || (b[i] >= 0x41 && b[i] <= 0x5A); i += 1 }
        guard i > hostStart, slashes == 2 else { return nil }
        let host = UnsafeBufferPointer(rebasing: b[hostStart..<i])
        let sentBy = upper ? String(decoding: host.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
                           : String(decoding: host, as: UTF8.self)
        var branch: String?
        while i < end, b[i] != 0x2C {
            if b[i] == 0x3B, let s = valueStart(of: "branch", in: b, after: i, end: end) {
                var e = s
                while e < end, SIPGrammar.token.contains(b[e]) { e += 1 }
                branch = String(decoding: UnsafeBufferPointer(rebasing: b[s..<e]), as: UTF8.self)
            }
            i += 1
        }
        return (sentBy, branch)
    }

    /// Where the value of parameter `name` starts, when the `;` at `semicolon` opens it
    /// (`; NAME = value`, name case-insensitive, LWS allowed around `=`); nil for another parameter.
    private static func valueStart(of name: StaticString, in b: UnsafeBufferPointer<UInt8>, after semicolon: Int, end: Int) -> Int? {
        let k = skipWSP(b, from: semicolon + 1, end: end)
        let n = name.utf8CodeUnitCount
        guard k + n <= end else { return nil }
        for j in 0..<n where b[k + j] | 0x20 != name.utf8Start[j] { return nil }
        let e = skipWSP(b, from: k + n, end: end)
        guard e < end, b[e] == 0x3D else { return nil }
        return skipWSP(b, from: e + 1, end: end)
    }

    private static func skipWSP(_ b: UnsafeBufferPointer<UInt8>, from i: Int, end: Int) -> Int {
        var i = i
        while i < end, SIPGrammar.isWSP(b[i]) { i += 1 }
        return i
    }

    /// The first `byte` in `b[from..<to]`, by `memchr`.
    @inline(__always)
    private static func find(_ byte: UInt8, in b: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> Int? {
        guard from < to, let base = b.baseAddress, let hit = memchr(base + from, Int32(byte), to - from) else { return nil }
        return UnsafeRawPointer(hit).assumingMemoryBound(to: UInt8.self) - base
    }

    /// End of the line starting at `i`: where its content stops and where the next line starts.
    private static func lineEnd(_ b: UnsafeBufferPointer<UInt8>, from i: Int) -> (contentEnd: Int, next: Int)? {
        guard let k = find(0x0A, in: b, from: i, to: b.count) else { return nil }
        return (k > i && b[k - 1] == 0x0D ? k - 1 : k, k + 1)
    }
}

/// A stateless final response prepared once (the status line and the headers after CSeq), to be
/// completed per request by ``RequestGlance/response(_:toTag:)``: the overload path answers
/// thousands of requests a second with the same 503.
public struct StatelessAnswer: Sendable {
    let head: [UInt8]
    let tail: [UInt8]

    public init(status: Int, reason: String, extraHeaders: [(String, String)] = []) {
        head = Array("SIP/2.0 \(status) \(reason)\r\n".utf8)
        var tail: [UInt8] = []
        for (name, value) in extraHeaders { tail.append(contentsOf: "\(name): \(value)\r\n".utf8) }
        tail.append(contentsOf: "Content-Length: 0\r\n\r\n".utf8)
        self.tail = tail
    }
}
