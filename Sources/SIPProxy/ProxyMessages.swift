import SIPCore

extension ProxyCore {
    /// The CANCEL for a forwarded request (RFC 3261 §9.1, §16.10): same Request-URI, Call-ID, From, To and CSeq
    /// number (method CANCEL), a single Via equal to the forwarded request's top Via (so it matches that client
    /// transaction downstream), the same Route values, Max-Forwards 70, and an optional RFC 3326 Reason.
    public static func cancel(for forwarded: SIPRequest, reason: String? = nil) -> SIPRequest {
        var h = SIPHeaders()
        if let via = forwarded.headers.firstValue("Via") { h.add("Via", via) }
        h.add("Max-Forwards", String(defaultMaxForwards))
        let routes = forwarded.headers.values("Route")
        if !routes.isEmpty { h.add("Route", routes.joined(separator: ", ")) }
        if let from = forwarded.headers.first("From") { h.add("From", from) }
        if let to = forwarded.headers.first("To") { h.add("To", to) }
        if let callID = forwarded.headers.first("Call-ID") { h.add("Call-ID", callID) }
        h.add("CSeq", "\(forwarded.cseq?.sequence ?? 0) CANCEL")
        if let reason { h.add("Reason", reason) }
        h.add("Content-Length", "0")
        return SIPRequest(method: .cancel, requestURI: forwarded.requestURI, version: forwarded.version, headers: h)
    }

    /// The hop-by-hop ACK for a non-2xx final response to a forwarded INVITE (RFC 3261 §17.1.1.3): Request-URI,
    /// Call-ID, From and CSeq number of the INVITE, To of the response, the INVITE's top Via and Route values.
    /// (The transaction layer normally sends it; an ACK for a 2xx is end-to-end and is proxied with `forward`
    /// like any in-dialog request, using `statelessBranch(for:)` for its Via.)
    public static func ack(for forwarded: SIPRequest, response: SIPResponse) -> SIPRequest {
        var h = SIPHeaders()
        if let via = forwarded.headers.firstValue("Via") { h.add("Via", via) }
        h.add("Max-Forwards", String(defaultMaxForwards))
        let routes = forwarded.headers.values("Route")
        if !routes.isEmpty { h.add("Route", routes.joined(separator: ", ")) }
        if let from = forwarded.headers.first("From") { h.add("From", from) }
        if let to = response.headers.first("To") ?? forwarded.headers.first("To") { h.add("To", to) }
        if let callID = forwarded.headers.first("Call-ID") { h.add("Call-ID", callID) }
        h.add("CSeq", "\(forwarded.cseq?.sequence ?? 0) ACK")
        h.add("Content-Length", "0")
        return SIPRequest(method: .ack, requestURI: forwarded.requestURI, version: forwarded.version, headers: h)
    }

    /// RFC 3326 Reason value for CANCELs caused by a final response on another branch
    /// (`SIP;cause=200;text="Call completed elsewhere"` for a 2xx).
    public static func reasonHeader(for response: SIPResponse) -> String {
        let text = response.statusCode / 100 == 2 ? "Call completed elsewhere" : response.reasonPhrase
        let escaped = String(text.filter { $0 != "\"" && $0 != "\\" && $0 != "\r" && $0 != "\n" })
        return "SIP;cause=\(response.statusCode);text=\"\(escaped)\""
    }
}
