import SIPCore

enum TxnText {
    static func trimmed(_ s: String) -> String {
        var v = Substring(s)
        while let f = v.first, f == " " || f == "\t" || f == "\r" || f == "\n" { v = v.dropFirst() }
        while let l = v.last, l == " " || l == "\t" || l == "\r" || l == "\n" { v = v.dropLast() }
        return String(v)
    }
}

/// Builders for the messages the transaction layer makes itself.
enum TxnMessages {
    /// RFC 3261 §17.1.1.3: the ACK the client INVITE transaction sends for a 300-699 response: Request-URI,
    /// Call-ID, From and the CSeq number of the INVITE with method ACK, a single Via equal to the INVITE's top
    /// Via, the To of the response, the INVITE's Route header fields.
    static func ack(for invite: SIPRequest, response: SIPResponse) -> SIPRequest {
        var h = SIPHeaders()
        if let via = invite.headers.firstValue("Via") { h.add("Via", via) }
        h.add("Max-Forwards", invite.headers.first("Max-Forwards") ?? "70")
        for route in invite.headers.rawValues("Route") { h.add("Route", route) }
        if let from = invite.headers.first("From") { h.add("From", from) }
        if let to = response.headers.first("To") ?? invite.headers.first("To") { h.add("To", to) }
        if let callID = invite.headers.first("Call-ID") { h.add("Call-ID", callID) }
        h.add("CSeq", "\(invite.cseq?.sequence ?? 0) ACK")
        h.add("Content-Length", "0")
        return SIPRequest(method: .ack, requestURI: invite.requestURI, version: invite.version, headers: h)
    }

    /// What an INVITE transaction keeps of its request once it has a final response: the request line
    /// and the fields that the CANCEL (§9.1), the non-2xx ACK (§17.1.1.3) and a locally made response
    /// (§8.2.6.2: every Via, From, To, Call-ID, CSeq) are built from. The body and the other fields
    /// (often most of an INVITE's memory) are needed by no later state, and there are 32 s (Timers L
    /// and M) of such transactions under call load.
    static func finalRecord(of request: SIPRequest) -> SIPRequest {
        var h = SIPHeaders()
        for field in request.headers {
            switch field.canonicalName {
            case "via", "from", "to", "call-id", "cseq", "route", "max-forwards": h.add(field.name, field.value)
            default: break
            }
        }
        return SIPRequest(method: request.method, requestURI: request.requestURI, version: request.version, headers: h)
    }

    /// RFC 3261 §9.1: the CANCEL for a request: same Request-URI, Call-ID, From, To and CSeq number; a single
    /// Via equal to the request's top Via; the same Route header fields.
    static func cancel(for request: SIPRequest) -> SIPRequest {
        var h = SIPHeaders()
        if let via = request.headers.firstValue("Via") { h.add("Via", via) }
        h.add("Max-Forwards", request.headers.first("Max-Forwards") ?? "70")
        for route in request.headers.rawValues("Route") { h.add("Route", route) }
        if let from = request.headers.first("From") { h.add("From", from) }
        if let to = request.headers.first("To") { h.add("To", to) }
        if let callID = request.headers.first("Call-ID") { h.add("Call-ID", callID) }
        h.add("CSeq", "\(request.cseq?.sequence ?? 0) CANCEL")
        h.add("Content-Length", "0")
        return SIPRequest(method: .cancel, requestURI: request.requestURI, version: request.version, headers: h)
    }

    /// The headers with the first value of the first Via field replaced, everything else kept in place.
    static func replacingTopVia(in headers: SIPHeaders, with value: String) -> SIPHeaders {
        var out = SIPHeaders()
        var done = false
        for field in headers {
            if !done, field.canonicalName == "via" {
                var parts = HeaderValueSplitter.split(field.value)
                if parts.isEmpty { parts = [value] } else { parts[0] = value }
                out.add(field.name, parts.joined(separator: ", "))
                done = true
            } else {
                out.add(field.name, field.value)
            }
        }
        return out
    }
}
