import SIPCore

// Small internal readers for the few header values the transaction layer needs (top Via, CSeq, tags,
// Call-ID). They work on the raw header text so that this module does not depend on SIPCore's typed
// views while those are being written; names are prefixed to avoid clashing with SIPCore's own.

/// RFC 3261 §8.1.1.7: branch IDs of RFC 3261 elements start with this magic cookie.
public let sipMagicCookie = "z9hG4bK"

/// The parts of one Via header value used for matching.
struct TxnVia: Hashable, Sendable {
    /// Trimmed original text (RFC 2543 matching compares whole top Via values).
    var raw: String
    /// Transport token from the sent-protocol, upper-cased (`UDP`, `TCP`, `TLS`, ...).
    var transport: String
    /// host[:port], host lower-cased.
    var sentBy: String
    var branch: String?

    var hasMagicCookie: Bool { branch?.hasPrefix(sipMagicCookie) ?? false }

    /// Parses `SIP/2.0/UDP host:port;branch=z9hG4bK...;received=...` (LWS allowed around `/`, `:`, `;`, `=`).
    init?(_ value: String) {
        let b = Array(value.utf8)
        var i = 0
        func isWS(_ c: UInt8) -> Bool { c == 32 || c == 9 || c == 13 || c == 10 }
        func skipWS() { while i < b.count, isWS(b[i]) { i += 1 } }
        func token(stopAt stops: Set<UInt8>) -> String {
            let start = i
            while i < b.count, !isWS(b[i]), !stops.contains(b[i]) { i += 1 }
            return String(decoding: b[start..<i], as: UTF8.self)
        }
        let slash = UInt8(ascii: "/"), semi = UInt8(ascii: ";"), colon = UInt8(ascii: ":")
        let comma = UInt8(ascii: ","), equal = UInt8(ascii: "=")
        skipWS()
        guard !token(stopAt: [slash]).isEmpty else { return nil }
        skipWS(); guard i < b.count, b[i] == slash else { return nil }; i += 1; skipWS()
        guard !token(stopAt: [slash]).isEmpty else { return nil }
        skipWS(); guard i < b.count, b[i] == slash else { return nil }; i += 1; skipWS()
        let transport = token(stopAt: [semi, comma])
        guard !transport.isEmpty else { return nil }
        skipWS()
        // sent-by = host [ COLON port ]; an IPv6 reference is bracketed.
        var host: String
        if i < b.count, b[i] == UInt8(ascii: "[") {
            let start = i
            while i < b.count, b[i] != UInt8(ascii: "]") { i += 1 }
            guard i < b.count else { return nil }
            i += 1
            host = String(decoding: b[start..<i], as: UTF8.self)
        } else {
            host = token(stopAt: [colon, semi, comma])
        }
        guard !host.isEmpty else { return nil }
        host = host.lowercased()
        skipWS()
        var sentBy = host
        if i < b.count, b[i] == colon {
            i += 1; skipWS()
            let port = token(stopAt: [semi, comma])
            guard !port.isEmpty, port.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
            sentBy += ":" + port
        }
        var branch: String? = nil
        while true {
            skipWS()
            guard i < b.count, b[i] == semi else { break }
            i += 1; skipWS()
            let name = token(stopAt: [equal, semi, comma])
            skipWS()
            var pvalue: String? = nil
            if i < b.count, b[i] == equal {
                i += 1; skipWS()
                pvalue = token(stopAt: [semi, comma])
            }
            if name.lowercased() == "branch", branch == nil { branch = pvalue }
        }
        self.raw = String(decoding: TxnText.trimmed(b[...]), as: UTF8.self)
        self.transport = transport.uppercased()
        self.sentBy = sentBy
        self.branch = branch
    }
}

/// `CSeq: 4711 INVITE`.
struct TxnCSeq: Hashable, Sendable {
    var sequence: UInt32
    var method: SIPMethod

    init(sequence: UInt32, method: SIPMethod) { self.sequence = sequence; self.method = method }

    init?(_ value: String) {
        let parts = value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" })
        guard parts.count == 2, let n = UInt32(parts[0]) else { return nil }
        self.sequence = n
        self.method = SIPMethod(String(parts[1]))
    }
}

enum TxnText {
    static func isWS(_ c: UInt8) -> Bool { c == 32 || c == 9 || c == 13 || c == 10 }

    static func trimmed(_ s: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var s = s
        while let f = s.first, isWS(f) { s = s.dropFirst() }
        while let l = s.last, isWS(l) { s = s.dropLast() }
        return s
    }

    static func trimmed(_ s: String) -> String { String(decoding: trimmed(Array(s.utf8)[...]), as: UTF8.self) }

    /// The `tag` parameter of a From/To value: the header parameters follow the `>` of a name-addr, or the
    /// first `;` of a bare addr-spec (RFC 3261 §20.10).
    static func tag(ofNameAddr value: String) -> String? {
        headerParameter("tag", of: value)
    }

    static func headerParameter(_ wanted: String, of value: String) -> String? {
        let b = Array(value.utf8)
        var i = 0
        var inQuotes = false
        var paramStart: Int? = nil
        var sawAngle = false
        // Find where the header parameters begin.
        while i < b.count {
            let c = b[i]
            if inQuotes {
                if c == UInt8(ascii: "\\") { i += 2; continue }
                if c == UInt8(ascii: "\"") { inQuotes = false }
                i += 1; continue
            }
            if c == UInt8(ascii: "\"") { inQuotes = true; i += 1; continue }
            if c == UInt8(ascii: "<") {
                sawAngle = true
                while i < b.count, b[i] != UInt8(ascii: ">") { i += 1 }
                i += 1
                // Parameters after the closing '>'.
                while i < b.count, b[i] != UInt8(ascii: ";") { i += 1 }
                paramStart = i < b.count ? i : nil
                break
            }
            if c == UInt8(ascii: ";"), !sawAngle { paramStart = i; break }
            i += 1
        }
        guard let start = paramStart else { return nil }
        // Split the parameter list on ';' outside quotes.
        var params: [ArraySlice<UInt8>] = []
        var j = start + 1, from = start + 1
        inQuotes = false
        while j < b.count {
            let c = b[j]
            if inQuotes {
                if c == UInt8(ascii: "\\") { j += 2; continue }
                if c == UInt8(ascii: "\"") { inQuotes = false }
            } else if c == UInt8(ascii: "\"") {
                inQuotes = true
            } else if c == UInt8(ascii: ";") {
                params.append(b[from..<j]); from = j + 1
            }
            j += 1
        }
        if from <= b.count { params.append(b[min(from, b.count)..<b.count]) }
        for p in params {
            let parts = p.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(decoding: trimmed(parts[0]), as: UTF8.self)
            guard name.lowercased() == wanted else { continue }
            if parts.count < 2 { return "" }
            return String(decoding: trimmed(parts[1]), as: UTF8.self)
        }
        return nil
    }
}

/// The header fields the transaction layer reads from a message, parsed once.
struct TxnFields: Sendable {
    var topVia: TxnVia?
    var cseq: TxnCSeq?
    var callID: String?
    var fromTag: String?
    var toTag: String?

    init(_ headers: SIPHeaders) {
        topVia = headers.values("Via").first.flatMap(TxnVia.init)
        cseq = headers.first("CSeq").flatMap(TxnCSeq.init)
        callID = headers.first("Call-ID").map(TxnText.trimmed)
        fromTag = headers.first("From").flatMap(TxnText.tag(ofNameAddr:))
        toTag = headers.first("To").flatMap(TxnText.tag(ofNameAddr:))
    }
}

/// Builders for the messages the transaction layer makes itself.
enum TxnMessages {
    /// A response to `request` with the headers of RFC 3261 §8.2.6.2 (Via, From, To, Call-ID, CSeq copied;
    /// Timestamp too for 100 Trying, §8.2.6.1). Used for 100 Trying and for the synthetic 408/503 the TU
    /// gets when a client transaction times out or fails.
    static func response(to request: SIPRequest, statusCode: Int, toTag: String? = nil) -> SIPResponse {
        var h = SIPHeaders()
        for v in request.headers.rawValues("Via") { h.add("Via", v) }
        if let from = request.headers.first("From") { h.add("From", from) }
        if var to = request.headers.first("To") {
            if let toTag, TxnText.tag(ofNameAddr: to) == nil { to += ";tag=" + toTag }
            h.add("To", to)
        }
        if let callID = request.headers.first("Call-ID") { h.add("Call-ID", callID) }
        if let cseq = request.headers.first("CSeq") { h.add("CSeq", cseq) }
        if statusCode == 100, let ts = request.headers.first("Timestamp") { h.add("Timestamp", ts) }
        h.add("Content-Length", "0")
        return SIPResponse(statusCode: statusCode, headers: h)
    }

    /// RFC 3261 §17.1.1.3: the ACK the client INVITE transaction sends for a 300-699 response.
    static func ack(for invite: SIPRequest, response: SIPResponse) -> SIPRequest {
        var h = SIPHeaders()
        if let via = invite.headers.values("Via").first { h.add("Via", via) }
        h.add("Max-Forwards", invite.headers.first("Max-Forwards") ?? "70")
        for route in invite.headers.rawValues("Route") { h.add("Route", route) }
        if let from = invite.headers.first("From") { h.add("From", from) }
        if let to = response.headers.first("To") ?? invite.headers.first("To") { h.add("To", to) }
        if let callID = invite.headers.first("Call-ID") { h.add("Call-ID", callID) }
        let seq = invite.headers.first("CSeq").flatMap(TxnCSeq.init)?.sequence ?? 0
        h.add("CSeq", "\(seq) ACK")
        h.add("Content-Length", "0")
        return SIPRequest(method: .ack, requestURI: invite.requestURI, version: invite.version, headers: h)
    }

    /// RFC 3261 §9.1: the CANCEL for a request (same Request-URI, Call-ID, From, To, CSeq number; a single Via
    /// equal to the top Via of the request; the same Route header fields).
    static func cancel(for request: SIPRequest) -> SIPRequest {
        var h = SIPHeaders()
        if let via = request.headers.values("Via").first { h.add("Via", via) }
        h.add("Max-Forwards", request.headers.first("Max-Forwards") ?? "70")
        for route in request.headers.rawValues("Route") { h.add("Route", route) }
        if let from = request.headers.first("From") { h.add("From", from) }
        if let to = request.headers.first("To") { h.add("To", to) }
        if let callID = request.headers.first("Call-ID") { h.add("Call-ID", callID) }
        let seq = request.headers.first("CSeq").flatMap(TxnCSeq.init)?.sequence ?? 0
        h.add("CSeq", "\(seq) CANCEL")
        h.add("Content-Length", "0")
        return SIPRequest(method: .cancel, requestURI: request.requestURI, version: request.version, headers: h)
    }
}
