import SIPCore

extension ProxyCore {
    /// The loop-detection part of a branch (RFC 3261 §16.6 step 8): a hash of To tag, From tag, Call-ID, CSeq
    /// number, Request-URI, top Via, Route, Proxy-Require and Proxy-Authorization of `request` (and
    /// `loopContext`), as 16 hex digits. A request that comes back with a different Request-URI (or Route set)
    /// hashes differently: a spiral, not a loop.
    ///
    /// Route is not in the RFC's list; it is included so that a request returning from an application server
    /// (or any hop we pushed a Route for) unchanged otherwise is treated as the spiral it is.
    public static func loopDetectionBranch(for request: SIPRequest, loopContext: String = "") -> String {
        loopHash(request, topVia: request.headers.firstValue("Via"), loopContext: loopContext)
    }

    /// `z9hG4bK` + loop hash + "." + unique part: the branch `forward` generates.
    public static func makeBranch(loopHash: String, unique: String) -> String {
        Via.magicCookie + loopHash + "." + unique
    }

    /// A deterministic branch for stateless forwarding (§16.11): the same incoming request (and its
    /// retransmissions, e.g. an ACK for 2xx) always gives the same branch, different requests different ones.
    public static func statelessBranch(for request: SIPRequest, loopContext: String = "") -> String {
        var h = StableHasher()
        h.combine(request.headers.firstValue("Via").map(normalizedVia))
        h.combine(request.requestURI)
        h.combine(request.method.rawValue)
        h.combine(loopContext)
        return makeBranch(loopHash: loopDetectionBranch(for: request, loopContext: loopContext), unique: ProxyText.hex(h.finalize()))
    }

    /// The loop-detection part of a branch made by `makeBranch`, nil for other branches.
    public static func loopPart(ofBranch branch: String) -> String? {
        guard branch.hasPrefix(Via.magicCookie) else { return nil }
        let rest = branch.dropFirst(Via.magicCookie.count)
        guard let dot = rest.firstIndex(of: ".") else { return nil }
        let part = rest[..<dot]
        guard part.utf8.count == 16, ProxyText.isHex(part) else { return nil }
        return String(part)
    }

    /// §16.3 step 4: the request carries a Via of ours whose loop hash equals the hash of the request as it is
    /// now, taking as "top Via" the one just below ours (the top Via when we forwarded it).
    public static func isLoop(_ request: SIPRequest, isLocalVia: (Via) -> Bool, loopContext: String = "") -> Bool {
        let values = request.headers.values("Via")
        for (i, text) in values.enumerated() where i + 1 < values.count {
            guard let via = try? Via(parsing: text), isLocalVia(via), let branch = via.branch,
                  let part = loopPart(ofBranch: branch) else { continue }
            if part == loopHash(request, topVia: values[i + 1], loopContext: loopContext) { return true }
        }
        return false
    }

    static func loopHash(_ request: SIPRequest, topVia: String?, loopContext: String) -> String {
        var h = StableHasher()
        h.combine(request.toTag)
        h.combine(request.fromTag)
        h.combine(request.callID)
        h.combine(request.cseq.map { String($0.sequence) })
        h.combine(request.uri?.description ?? request.requestURI)
        h.combine(topVia.map(normalizedVia))
        for route in request.headers.values("Route") {
            h.combine((try? NameAddr(parsing: route))?.description ?? route)
        }
        h.combine("|")
        for tag in request.proxyRequire { h.combine(ProxyText.lowercasedASCII(ProxyText.trimmed(tag))) }
        h.combine("|")
        for auth in request.headers.rawValues("Proxy-Authorization") { h.combine(ProxyText.trimmed(auth)) }
        h.combine("|")
        h.combine(loopContext)
        return ProxyText.hex(h.finalize())
    }

    static func normalizedVia(_ text: String) -> String { (try? Via(parsing: text))?.description ?? ProxyText.trimmed(text) }
}
