import SIPCore

/// Outcome of request validation and preprocessing (RFC 3261 §16.3, §16.4).
public enum ProxyVerdict: Sendable, Hashable {
    /// Valid: continue with target determination (§16.5) and forwarding (§16.6) using the preprocessed request.
    case proceed(ValidatedRequest)
    /// Send this final response on the server transaction (it carries a To tag; §16.3 makes the proxy a UAS here).
    case reject(SIPResponse)
    /// OPTIONS with Max-Forwards 0: the proxy may answer it as a UAS (§16.3 step 3, §11), e.g. 200 with Allow.
    case answerLocally(SIPRequest)
    /// An ACK that failed validation: never answered, drop it (§17.2.3: ACKs get no response).
    case discard(reason: String)
}

/// A request that passed §16.3 and went through §16.4 route preprocessing.
public struct ValidatedRequest: Sendable, Hashable {
    /// The request after §16.4: strict-route R-URI restored, own top Route(s) removed, local maddr stripped.
    public var request: SIPRequest
    /// Our own Route values removed from the top (one, or two for a double Record-Route, RFC 5658), in order.
    /// Their parameters (e.g. an IMS orig-dialog-id or role marker) tell the caller which context this is.
    public var consumedRoutes: [NameAddr]
    /// The Request-URI as received.
    public var receivedRequestURI: String
    /// The R-URI was one of our Record-Route URIs (previous hop is a strict router) and was replaced by the
    /// last Route value (§16.4).
    public var restoredFromStrictRoute: Bool

    public init(request: SIPRequest, consumedRoutes: [NameAddr], receivedRequestURI: String, restoredFromStrictRoute: Bool) {
        self.request = request
        self.consumedRoutes = consumedRoutes
        self.receivedRequestURI = receivedRequestURI
        self.restoredFromStrictRoute = restoredFromStrictRoute
    }
}

/// A request ready to send and where to send it.
public struct ForwardedRequest: Sendable, Hashable {
    public var request: SIPRequest
    /// §16.6 step 7: resolve this (RFC 3263) to find the destination. Nil when the Request-URI does not parse.
    public var nextHop: URI?
    /// The top Route was a strict router: it became the Request-URI and is the next hop.
    public var toStrictRouter: Bool

    public init(request: SIPRequest, nextHop: URI?, toStrictRouter: Bool) {
        self.request = request
        self.nextHop = nextHop
        self.toStrictRouter = toStrictRouter
    }
}

/// Policy knobs of §16.3.
public struct ProxyOptions: Sendable, Hashable {
    /// Option tags this proxy supports in Proxy-Require (compared case-insensitively). Others give 420.
    public var supportedOptionTags: Set<String>
    /// Request-URI schemes this proxy routes (lower-case). Others give 416.
    public var supportedSchemes: Set<String>
    /// §16.3 step 4. Turn off only for a role whose spirals cannot be told apart by `loopContext`.
    public var detectLoops: Bool
    /// Mixed into the loop-detection hash. In an all-in-one element, give each logical role (P-, I-, S-CSCF
    /// orig/term) its own context, at validation and at forwarding, so that a request passing through two roles
    /// of this process is a spiral, not a loop.
    public var loopContext: String

    public init(supportedOptionTags: Set<String> = [], supportedSchemes: Set<String> = SIPParser.acceptedRequestURISchemes,
                detectLoops: Bool = true, loopContext: String = "") {
        self.supportedOptionTags = Set(supportedOptionTags.map(ProxyText.lowercasedASCII))
        self.supportedSchemes = Set(supportedSchemes.map(ProxyText.lowercasedASCII))
        self.detectLoops = detectLoops
        self.loopContext = loopContext
    }
}

/// RFC 3261 §16 stateful-proxy request processing. Pure functions over values; transport, timers and DNS are the
/// caller's.
public enum ProxyCore {
    /// The default Max-Forwards (§16.6 step 3).
    public static let defaultMaxForwards = 70

    // MARK: §16.3 validation, §16.4 preprocessing

    /// Validates a request (§16.3) and preprocesses its routing information (§16.4).
    ///
    /// Order: reasonable syntax (400), Request-URI scheme (416), Max-Forwards (483; an OPTIONS with 0 gives
    /// `.answerLocally`), route preprocessing, loop detection (482), Proxy-Require (420 with Unsupported).
    /// Loop detection runs on the preprocessed request, the same form `forward` hashes, so a loop is recognised
    /// whatever strict/loose routing the previous hops did.
    ///
    /// - Parameters:
    ///   - isLocalURI: whether a URI (Route value, Request-URI, maddr) designates this proxy.
    ///   - isLocalVia: whether a Via was inserted by this proxy; defaults to `isLocalURI(sip:host[:port])`.
    ///   - isRecordRouteURI: whether a Request-URI is one of our Record-Route URIs (strict previous hop);
    ///     defaults to a local SIP URI carrying `lr` (we always record-route with `lr`).
    ///   - toTag: the To tag for a rejection; random when nil.
    public static func validate(
        _ request: SIPRequest,
        isLocalURI: (URI) -> Bool,
        isLocalVia: ((Via) -> Bool)? = nil,
        isRecordRouteURI: ((URI) -> Bool)? = nil,
        options: ProxyOptions = ProxyOptions(),
        toTag: String? = nil
    ) -> ProxyVerdict {
        let isACK = request.method == .ack
        let tag = toTag ?? makeTag()
        func reject(_ code: Int, _ reason: String? = nil) -> ProxyVerdict {
            if isACK { return .discard(reason: "\(code) \(reason ?? SIPStatus.defaultReason(code))") }
            return .reject(request.makeResponse(statusCode: code, reasonPhrase: reason, toTag: tag))
        }

        // 1. Reasonable syntax: what forwarding and responding rely on.
        guard request.topVia != nil, !request.vias.isEmpty, request.callID != nil, request.cseq != nil,
              request.from != nil, request.to != nil else {
            return reject(400, "Bad Request")
        }
        if request.headers.contains("Max-Forwards"), request.maxForwards == nil { return reject(400, "Bad Max-Forwards") }

        // 2. URI scheme.
        guard let uri = request.uri else { return reject(400, "Bad Request-URI") }
        guard options.supportedSchemes.contains(uri.scheme) else { return reject(416) }

        // 3. Max-Forwards (absent: treated as 70).
        if let mf = request.maxForwards, mf == 0 {
            if request.method == .options { return .answerLocally(request) }
            return reject(483)
        }

        // §16.4, then 4. loop detection on the preprocessed form.
        let pre = preprocessRoutes(request, isLocalURI: isLocalURI, isRecordRouteURI: isRecordRouteURI)
        if options.detectLoops {
            let looped = isLoop(pre.request, isLocalVia: { via in
                if let isLocalVia { return isLocalVia(via) }
                return isLocalURI(.sip(SIPURI(host: via.host, port: via.port)))
            }, loopContext: options.loopContext)
            if looped { return reject(482) }
        }

        // 5. Proxy-Require.
        let unsupported = request.proxyRequire.filter {
            !options.supportedOptionTags.contains(ProxyText.lowercasedASCII(ProxyText.trimmed($0)))
        }
        if !unsupported.isEmpty {
            if isACK { return .discard(reason: "420 Bad Extension") }
            let r = request.makeResponse(statusCode: 420, toTag: tag)
            return .reject(r.adding("Unsupported", unsupported.map { ProxyText.trimmed($0) }.joined(separator: ", ")))
        }
        return .proceed(pre)
    }

    /// RFC 3261 §16.4 route information preprocessing:
    /// 1. Request-URI is one of our Record-Route URIs (the previous hop was a strict router): replace it with the
    ///    last Route value and remove that value.
    /// 2. Request-URI has a `maddr` designating us: strip `maddr`, port and transport.
    /// 3. The top Route designates us: remove it; when it carries `r2` (our double Record-Route marker, RFC 5658)
    ///    and the next Route is ours with `r2` too, remove that one as well.
    public static func preprocessRoutes(_ request: SIPRequest, isLocalURI: (URI) -> Bool,
                                        isRecordRouteURI: ((URI) -> Bool)? = nil) -> ValidatedRequest {
        var out = request
        var restored = false
        var routes = out.headers.values("Route")

        // 1. Strict-routing previous hop.
        if let uri = out.uri, !routes.isEmpty {
            let isOurRR = isRecordRouteURI?(uri) ?? (isLocalURI(uri) && (uri.sipURI?.isLooseRouter ?? false))
            if isOurRR, let last = routes.last, let lastAddr = try? NameAddr(parsing: last) {
                out.requestURI = lastAddr.uri.description
                routes.removeLast()
                out.headers.setList("Route", routes)
                restored = true
            }
        }

        // 2. maddr naming us.
        if case .sip(var sip)? = out.uri, let maddr = sip.maddr, isLocalURI(.sip(SIPURI(host: maddr))) {
            sip.parameters.remove("maddr")
            sip.parameters.remove("transport")
            sip.port = nil
            out.requestURI = sip.description
        }

        // 3. Own top Route(s).
        var consumed: [NameAddr] = []
        if let first = routes.first, let top = try? NameAddr(parsing: first), isLocalURI(top.uri) {
            routes.removeFirst()
            consumed.append(top)
            if top.uri.sipURI?.parameters.contains(RecordRoutePolicy.doubleMarker) == true,
               let second = routes.first, let next = try? NameAddr(parsing: second), isLocalURI(next.uri),
               next.uri.sipURI?.parameters.contains(RecordRoutePolicy.doubleMarker) == true {
                routes.removeFirst()
                consumed.append(next)
            }
            out.headers.setList("Route", routes)
        }
        return ValidatedRequest(request: out, consumedRoutes: consumed, receivedRequestURI: request.requestURI,
                                restoredFromStrictRoute: restored)
    }

    // MARK: §16.6 forwarding

    /// Builds the request to send to one target (RFC 3261 §16.6 steps 1-8):
    /// copy; Request-URI = `target` (kept when nil, e.g. routing by Route); Max-Forwards decremented (70 when
    /// absent); Record-Route added per `recordRoute` (single, or double when the inbound and outbound interfaces
    /// differ, RFC 5658); strict next hop handled (the R-URI is pushed to the end of Route and the strict Route
    /// becomes the R-URI); our Via prepended with `via.branch`, or with a fresh branch
    /// `z9hG4bK<loop-hash>.<random>` when `via` has none.
    ///
    /// Push any Route values of your own (Path, Service-Route, an AS) before calling: they take part in the
    /// loop-detection hash, so a request coming back from them is a spiral, not a loop.
    public static func forward(_ request: SIPRequest, to target: URI? = nil, via: Via,
                               recordRoute: RecordRoutePolicy? = nil, loopContext: String = "") -> SIPRequest {
        prepareForward(request, to: target, via: via, recordRoute: recordRoute, loopContext: loopContext).request
    }

    /// `forward`, also returning where to send the result (§16.6 step 7). Use this one when the route set may
    /// contain strict routers: after the step-6 rewrite the next hop is the Request-URI even though a loose
    /// Route may now be on top, which `nextHop(for:)` cannot tell from the message alone.
    public static func prepareForward(_ request: SIPRequest, to target: URI? = nil, via: Via,
                                      recordRoute: RecordRoutePolicy? = nil, loopContext: String = "") -> ForwardedRequest {
        var out = request
        if let target { out.requestURI = target.description }

        if let mf = request.maxForwards {
            out.headers.set("Max-Forwards", String(max(0, mf - 1)))
        } else {
            out.headers.remove("Max-Forwards")
            out.headers.add("Max-Forwards", String(defaultMaxForwards))
        }

        if let recordRoute {
            for value in recordRoute.recordRouteValues().reversed() { out.headers.prepend("Record-Route", value) }
        }

        // Step 6: a strict router as next hop.
        var routes = out.headers.values("Route")
        var strictNextHop: URI?
        if let first = routes.first, let top = try? NameAddr(parsing: first), let sip = top.uri.sipURI, !sip.isLooseRouter {
            routes.removeFirst()
            routes.append("<" + out.requestURI + ">")
            out.requestURI = top.uri.description
            out.headers.setList("Route", routes)
            strictNextHop = top.uri
        }

        var ourVia = via
        if ourVia.branch == nil {
            ourVia.branch = makeBranch(loopHash: loopDetectionBranch(for: request, loopContext: loopContext), unique: ProxyText.randomHex())
        }
        out.headers.prepend("Via", ourVia.description)
        return ForwardedRequest(request: out, nextHop: strictNextHop ?? nextHop(for: out), toStrictRouter: strictNextHop != nil)
    }

    /// Where to send a request (§16.6 step 7): the top Route when it is a loose router, otherwise the
    /// Request-URI. Nil when the Request-URI does not parse. A tel/urn result is for the caller's
    /// ENUM/BGCF/E-CSCF logic. For a request `forward` rewrote for a strict router, use
    /// `prepareForward(...).nextHop` instead.
    public static func nextHop(for request: SIPRequest) -> URI? {
        if let first = request.headers.firstValue("Route"), let top = try? NameAddr(parsing: first),
           top.uri.sipURI?.isLooseRouter == true {
            return top.uri
        }
        return request.uri
    }

    // MARK: §16.7 response forwarding

    /// The response with the topmost Via (ours) removed (§16.7 step 3). If no Via is left the response was for
    /// this element itself and must not be forwarded.
    public static func stripTopVia(_ response: SIPResponse) -> SIPResponse {
        var r = response
        r.headers.removeFirstValue("Via")
        return r
    }

    /// A random token for To tags.
    public static func makeTag() -> String { String(ProxyText.randomHex().prefix(12)) }
}
