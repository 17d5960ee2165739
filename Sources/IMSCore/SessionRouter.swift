import IMSModel
import Logging
import NIOCore
import PCSCF
import SCSCF
import BGCF
import SIPCore
import SIPProxy
import SIPTransaction
import SIPTransport

/// Routes sessions and standalone requests through the roles (TS 24.229 §5.2, §5.4.3): the
/// originating P-CSCF (registered flows only, P-Asserted-Identity), the originating S-CSCF (number
/// translation, breakout), the terminating S-CSCF (bindings, forking) and the terminating P-CSCF
/// (the UE's own flow, so NATed clients are reachable). In-dialog requests follow Record-Route.
///
/// Record-Route and Path URIs carry the flow they lead to as a token in the user part, so every
/// in-dialog request finds the right connection or NAT binding without any per-dialog state.
final class SessionRouter: @unchecked Sendable {  // confined to the SIP loop
    unowned let stack: SIPStack
    let logger: Logger
    let host: String
    let port: Int
    let tlsPort: Int
    /// Forwarded requests waiting for their branches' answers, by server transaction.
    private var contexts: [ServerTransactionID: ResponseContext<ClientTransactionID>] = [:]
    /// RFC 3261 §16.8 Timer C per INVITE branch: a callee that rings forever is cancelled.
    private var timerC: [ClientTransactionID: Scheduled<Void>] = [:]
    var timerCSeconds: Int64 = 180
    private var branchOwner: [ClientTransactionID: ServerTransactionID] = [:]
    var sessionExpires = 600
    var minSessionExpires = 90

    init(stack: SIPStack, host: String, port: Int, tlsPort: Int, logger: Logger) {
        self.stack = stack
        self.host = host
        self.port = port
        self.tlsPort = tlsPort
        self.logger = logger
    }

    var activeContexts: Int { contexts.count }
    func owns(_ id: ServerTransactionID) -> Bool { contexts[id] != nil }
    private var registrations: RegistrationService? { stack.registrations }

    // MARK: entry points

    func handle(_ request: SIPRequest, transaction id: ServerTransactionID, from source: SIPEndpoint) {
        var request = request
        let popped = popOwnRoutes(&request)
        if request.toTag != nil {
            routeInDialog(request, popped: popped, transaction: id, from: source)
            return
        }
        routeInitial(request, transaction: id, from: source)
    }

    /// ACK for a 2xx: end to end, statelessly along the route set (RFC 3261 §16.7 / §13.2.2.4).
    func handleAck(_ request: SIPRequest, from source: SIPEndpoint) {
        var request = request
        let popped = popOwnRoutes(&request)
        guard let next = nextHop(request, popped: popped, from: source) else { return }
        guard let forwarded = prepareForward(request, decrementFrom: request.maxForwards) else { return }
        var withVia = forwarded
        withVia.headers.prepend("Via", ourVia(for: next.transport))
        stack.transport.send(.request(withVia), to: next)
    }

    func handleCancel(_ cancel: SIPRequest, invite: ServerTransactionID?, transaction id: ServerTransactionID) {
        guard let invite, var context = contexts[invite] else {
            stack.respond(id, stack.element.reply(cancel, 481))
            return
        }
        stack.respond(id, stack.element.reply(cancel, 200))
        // RFC 3261 §16.10: CANCEL every pending branch; their 487s produce the final answer.
        let actions = context.cancelReceived(reason: cancel.headers.first("Reason"))
        contexts[invite] = context
        perform(actions, for: invite)
    }

    /// A response on one of our branches. Returns false when the branch is not ours.
    func handleBranchResponse(_ response: SIPResponse, branch: ClientTransactionID) -> Bool {
        guard let serverID = branchOwner[branch], var context = contexts[serverID] else { return false }
        // RFC 3261 §16.7 step 3: a response with no Via left after ours is for us alone; drop it.
        guard response.headers.values("Via").count > 1 else { return true }
        let actions = context.received(response, on: branch)
        contexts[serverID] = context
        perform(actions, for: serverID)
        return true
    }

    /// Timer B/F expiry (timeout) or a send failure on a branch.
    func handleBranchFailure(_ branch: ClientTransactionID, timeout: Bool) -> Bool {
        guard let serverID = branchOwner[branch], var context = contexts[serverID] else { return false }
        let actions = timeout ? context.branchTimedOut(branch) : context.branchTransportError(branch)
        contexts[serverID] = context
        perform(actions, for: serverID)
        return true
    }

    private func perform(_ actions: [ProxyAction<ClientTransactionID>], for serverID: ServerTransactionID) {
        for action in actions {
            switch action {
            case .forwardProvisional(let response):
                stack.respond(serverID, response)
            case .forwardFinal(let response):
                stack.respond(serverID, response)
            case .cancelBranches(let ids):
                for id in ids {
                    guard let cancel = contexts[serverID]?.cancelRequest(for: id),
                          let peer = stack.transactions.peer(of: .client(id)) else { continue }
                    _ = stack.sendRequest(cancel, to: peer)
                }
            case .restartTimerC(let id):
                startTimerC(id, server: serverID)
            case .branchesCompleted:
                if var context = contexts[serverID] {
                    let more = context.targetsExhausted()
                    contexts[serverID] = context
                    perform(more, for: serverID)
                }
            }
        }
        cleanUp(serverID)
    }

    /// Drops the context once every branch has ended and the final answer went upstream.
    private func cleanUp(_ serverID: ServerTransactionID) {
        guard let context = contexts[serverID] else { return }
        for (id, branch) in context.branches where !branch.isPending {
            branchOwner[id] = nil
            timerC.removeValue(forKey: id)?.cancel()
        }
        if context.finalResponseSent && context.pendingBranches.isEmpty {
            contexts[serverID] = nil
        }
    }

    private func startTimerC(_ id: ClientTransactionID, server serverID: ServerTransactionID) {
        timerC.removeValue(forKey: id)?.cancel()
        guard contexts[serverID]?.needsTimerC(id) == true else { return }
        timerC[id] = stack.eventLoop.scheduleTask(in: .seconds(timerCSeconds)) { [self] in
            timerC[id] = nil
            guard var context = contexts[serverID] else { return }
            let actions = context.timerCFired(id)
            contexts[serverID] = context
            perform(actions, for: serverID)
        }
    }

    // MARK: initial requests

    private func routeInitial(_ request: SIPRequest, transaction id: ServerTransactionID, from source: SIPEndpoint) {
        guard let registrations else {
            stack.respond(id, stack.element.reply(request, 503, reason: "Not Ready"))
            return
        }
        let now = RegistrationService.wallClock()
        // First, whoever sent it. RFC 3261 §16.3 step 4: our own Via below with this request's loop hash = it came back unchanged.
        if ProxyCore.isLoop(request, isLocalVia: isLocalVia) {
            stack.respond(id, stack.element.reply(request, 482))
            return
        }
        let loopHash = ProxyCore.loopDetectionBranch(for: request)
        // Originating P-CSCF (TS 24.229 §5.2.6.3): only registered flows may originate.
        guard let flow = registrations.pcscf.registeredFlow(source.description, now: now) else {
            stack.respond(id, stack.element.reply(request, 403, reason: "Forbidden (not registered)"))
            return
        }
        var request = request
        assertIdentity(&request, flow: flow)
        if request.method == .invite, let rejection = checkSessionTimer(&request) {
            stack.respond(id, rejection)
            return
        }
        if let rejection = checkSDP(request) {
            stack.respond(id, rejection)
            return
        }
        // Originating S-CSCF → (I-CSCF location query) → terminating S-CSCF.
        guard let uri = request.uri else {
            stack.respond(id, stack.element.reply(request, 400, reason: "Bad Request-URI"))
            return
        }
        let domain = registrations.scscf.settings.homeDomain
        switch resolveTarget(uri, homeDomain: domain) {
        case .local(let impu):
            terminate(request, impu: impu, originalURI: uri, transaction: id, from: source, loopHash: loopHash)
        case .external(let route, let requestURI):
            // Breakout through the BGCF route (TS 24.229 §5.6): the route set leads to the gateway.
            var out = request
            out.requestURI = requestURI
            for hop in route.reversed() { out.headers.prepend("Route", "<\(hop)>") }
            guard let first = route.first, let firstURI = try? SIPURI(parsing: first) else {
                stack.respond(id, stack.element.reply(request, 500, reason: "Bad BGCF Route"))
                return
            }
            forward(out, transaction: id, targets: [(requestURI, .host(firstURI))], from: source, loopHash: loopHash)
        case .reject(let status, let reason):
            stack.respond(id, stack.element.reply(request, status, reason: reason))
        }
    }

    enum Resolution: Equatable {
        case local(String)
        /// Breakout or off-net: send with this Request-URI to the first hop of `route`.
        case external(route: [String], requestURI: String)
        case reject(Int, String)
    }

    /// Where a Request-URI leads (TS 24.229 §5.4.3.2 with ENUM and the BGCF, TS 24.229 §5.6):
    /// a local identity, a breakout route, or a refusal.
    func resolveTarget(_ uri: URI, homeDomain: String) -> Resolution {
        let aliases = stack.element.localHosts
        let directory = registrations?.hss
        let isLocal: (String) -> Bool = { impu in
            guard let n = PublicIdentity.normalize(impu, homeDomain: homeDomain, aliases: aliases) else { return false }
            return directory?.registrationSet(impu: n) != nil
        }
        switch stack.routingTables.decide(requestURI: uri, homeDomain: homeDomain, isLocalSubscriber: isLocal) {
        case .local(let impu):
            return .local(PublicIdentity.normalize(impu, homeDomain: homeDomain, aliases: aliases) ?? impu)
        case .breakout(let route, let requestURI):
            return .external(route: route.route, requestURI: requestURI)
        case .offNet(let requestURI):
            guard let target = try? URI(parsing: requestURI) else { return .reject(404, "Not Found") }
            return resolveSIP(target, requestURI: requestURI, homeDomain: homeDomain)
        case .notFound(let status, let reason):
            return .reject(status, reason)
        case .notANumber:
            return resolveSIP(uri, requestURI: uri.description, homeDomain: homeDomain)
        }
    }

    /// A SIP URI that is not a number: home domain → local; another domain → its BGCF domain route
    /// (or `*`), else 404: this box does no DNS routing to other networks.
    private func resolveSIP(_ uri: URI, requestURI: String, homeDomain: String) -> Resolution {
        guard case .sip(let sip) = uri else { return .reject(416, "Unsupported URI Scheme") }
        let host = sip.host.lowercased()
        if host == homeDomain.lowercased() || stack.element.localHosts.contains(host) {
            guard let impu = PublicIdentity.normalize(uri, homeDomain: homeDomain, aliases: stack.element.localHosts) else {
                return .reject(404, "Not Found")
            }
            return .local(impu)
        }
        if let route = stack.routingTables.bgcfTable.route(number: nil, domain: host) {
            return .external(route: route.route, requestURI: requestURI)
        }
        return .reject(404, "No Route To Domain")
    }

    /// Terminating S-CSCF (TS 24.229 §5.4.3.3) and P-CSCF (§5.2.6.4).
    private func terminate(_ request: SIPRequest, impu: String, originalURI: URI, transaction id: ServerTransactionID,
                           from source: SIPEndpoint, loopHash: String) {
        guard let registrations else { return }
        let now = RegistrationService.wallClock()
        guard let set = registrations.hss.registrationSet(impu: impu), !set.barred.contains(impu) else {
            stack.respond(id, stack.element.reply(request, 404))
            return
        }
        var bindings = registrations.scscf.registrar.bindings(for: set.defaultIdentity, now: now)
        if case .sip(let sip) = originalURI, let gr = sip.parameters["gr"], let instance = gr {
            // GRUU (RFC 5627 §7): exactly the instance it names.
            bindings = bindings.filter { ($0.instance.map(RegInfo.instanceURN) ?? "") == instance }
        }
        // RFC 3841 caller preferences: Reject-/Accept-Contact filter, then q-value order.
        bindings = CallerPreferences(request: request).rank(bindings, parameters: \.contactParameters, q: \.q).map(\.target)
        guard !bindings.isEmpty else {
            registrations.markUnregisteredIfIdle(set)
            stack.respond(id, stack.element.reply(request, 480))
            return
        }
        var targets: [(String, NextHop)] = []
        for b in bindings {
            let contact = try? SIPURI(parsing: b.contactURI)
            if let flow = b.flow, let endpoint = SIPEndpoint(flow: flow), useFlow(endpoint, contact: contact, binding: b) {
                targets.append((b.contactURI, .flow(endpoint, flow)))
            } else if let contact {
                targets.append((b.contactURI, .host(contact)))
            }
        }
        forward(request, transaction: id, targets: targets, from: source, loopHash: loopHash)
    }

    /// Whether to reach a binding over the flow its REGISTER came on rather than its Contact address:
    /// always for connections that are still open (RFC 5626, RFC 5923 reuse) and for outbound
    /// (reg-id) registrations; for UDP whenever the Contact's host is not the address the REGISTER
    /// came from (a NAT rewrote it: the private Contact is unreachable, the flow is not).
    private func useFlow(_ flow: SIPEndpoint, contact: SIPURI?, binding: Binding) -> Bool {
        if flow.transport.isReliable { return stack.transport.isOpen(flow) || contact == nil }
        if binding.regID != nil { return true }
        guard let contact else { return true }
        var host = contact.host
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host != flow.ipAddress
    }

    enum NextHop {
        case flow(SIPEndpoint, String)
        case host(SIPURI)
    }

    /// `loopHash`: the hash of the request as it arrived (before we added routes), put in our Via
    /// branch so that, if it comes back unchanged, `ProxyCore.isLoop` recognises it.
    private func forward(_ request: SIPRequest, transaction id: ServerTransactionID, targets: [(String, NextHop)],
                         from source: SIPEndpoint, loopHash: String) {
        guard let base = prepareForward(request, decrementFrom: request.maxForwards) else {
            stack.respond(id, stack.element.reply(request, 483))
            return
        }
        var context = ResponseContext<ClientTransactionID>(request: request)
        var started: [ClientTransactionID] = []
        for (uri, hop) in targets {
            var out = base
            out.requestURI = uri
            let endpoint: SIPEndpoint
            let flowText: String
            switch hop {
            case .flow(let e, let text):
                endpoint = e
                flowText = text
            case .host(let sip):
                guard let e = resolve(sip) else { continue }
                endpoint = e
                flowText = e.description
            }
            if request.method == .invite || request.method == .subscribe || request.method == .refer {
                // Record-Route once per side (RFC 5658), the callee's side on top: each entry names the
                // flow or address that side is reached on, so in-dialog requests need no dialog state.
                recordRoute(&out, flows: [source.description, flowText])
            }
            out.headers.prepend("Via", ourVia(for: endpoint.transport, loopHash: loopHash))
            if let branch = stack.sendRequest(out, to: endpoint), context.addBranch(branch, request: out) {
                branchOwner[branch] = id
                started.append(branch)
            }
        }
        guard !started.isEmpty else {
            stack.respond(id, stack.element.reply(request, 480))
            return
        }
        contexts[id] = context
        for branch in started { startTimerC(branch, server: id) }
        if request.method == .invite {
            // RFC 3261 §16.7: a stateful proxy answers INVITE with 100 itself.
            stack.respond(id, stack.element.reply(request, 100))
        }
    }

    // MARK: in-dialog

    private func routeInDialog(_ request: SIPRequest, popped: PoppedRoutes, transaction id: ServerTransactionID,
                               from source: SIPEndpoint) {
        guard let next = nextHop(request, popped: popped, from: source) else {
            stack.respond(id, stack.element.reply(request, 481))
            return
        }
        guard var out = prepareForward(request, decrementFrom: request.maxForwards) else {
            stack.respond(id, stack.element.reply(request, 483))
            return
        }
        out.headers.prepend("Via", ourVia(for: next.transport))
        guard let branch = stack.sendRequest(out, to: next) else {
            stack.respond(id, stack.element.reply(request, 500))
            return
        }
        var context = ResponseContext<ClientTransactionID>(request: request)
        _ = context.addBranch(branch, request: out)
        branchOwner[branch] = id
        contexts[id] = context
        startTimerC(branch, server: id)
    }

    /// The endpoint an in-dialog request goes to (RFC 3261 §16.12 with our flow tokens):
    /// - a Route left after ours (an external next hop, e.g. a gateway) wins;
    /// - with both of our Record-Route entries popped, the last one names the far side's flow (the
    ///   caller's route set is the reverse of the callee's, so this holds in both directions);
    /// - with one, it is the far side unless the request came from that very flow, in which case
    ///   the Request-URI (e.g. a gateway's Contact) is the target.
    private func nextHop(_ request: SIPRequest, popped: PoppedRoutes, from source: SIPEndpoint) -> SIPEndpoint? {
        if let top = request.routes.first, case .sip(let sip) = top.uri {
            return resolve(sip)
        }
        if popped.flows.count >= 2, let last = popped.flows.last, let e = SIPEndpoint(flow: last) {
            return e
        }
        if let only = popped.flows.first, let e = SIPEndpoint(flow: only), !isSameFlow(e, source) {
            return e
        }
        // Only a dialog we record-routed is ours to route: without one of our Route entries the
        // request is for a dialog we do not know (481), never re-sent to whatever its URI names.
        if !popped.flows.isEmpty, case .sip(let sip)? = request.uri { return resolve(sip) }
        return nil
    }

    private func isSameFlow(_ a: SIPEndpoint, _ b: SIPEndpoint) -> Bool {
        if a.transport.isReliable, let ia = a.connectionID, let ib = b.connectionID { return ia == ib }
        return a.transport == b.transport && a.address == b.address
    }

    struct PoppedRoutes { var flows: [String] = [] }

    /// RFC 3261 §16.4: remove the Route entries that name us (our Record-Route, Path, Service-Route,
    /// or the outbound proxy address a client was configured with), keeping the flows they carry.
    private func popOwnRoutes(_ request: inout SIPRequest) -> PoppedRoutes {
        var popped = PoppedRoutes()
        while let top = request.routes.first, case .sip(let sip) = top.uri, isLocal(sip) {
            if let user = sip.user, let flow = PCSCF.flow(fromToken: user) { popped.flows.append(flow) }
            request.headers.removeFirstValue("Route")
        }
        return popped
    }

    func isLocalVia(_ via: Via) -> Bool {
        stack.element.localHosts.contains(via.host.lowercased()) && stack.element.localPorts.contains(via.port ?? 5060)
    }

    func isLocal(_ uri: SIPURI) -> Bool {
        guard stack.element.localHosts.contains(uri.host.lowercased()) else { return false }
        let p = uri.port ?? (uri.scheme == "sips" ? 5061 : 5060)
        return stack.element.localPorts.contains(p)
    }

    // MARK: helpers

    private func prepareForward(_ request: SIPRequest, decrementFrom mf: Int?) -> SIPRequest? {
        var out = request
        let current = mf ?? 70
        guard current > 0 else { return nil }
        out.headers.set("Max-Forwards", String(current - 1))
        return out
    }

    /// One Record-Route per side (RFC 5658 double record-routing), each with the transport that
    /// side uses, so a UE on TCP keeps sending in-dialog requests over its connection.
    private func recordRoute(_ request: inout SIPRequest, flows: [String]) {
        for flow in flows {
            let transport = SIPEndpoint(flow: flow)?.transport ?? .udp
            let param = transport == .udp ? "" : ";transport=\(transport.lowercasedToken)"
            let side = transport == .tls ? tlsPort : port
            request.headers.prepend("Record-Route", "<sip:\(PCSCF.flowToken(flow))@\(host):\(side)\(param);lr>")
        }
    }

    /// Our Via; initial requests carry their loop hash in the branch so a spiral back is recognised.
    private func ourVia(for transport: SIPTransportProtocol, loopHash: String? = nil) -> String {
        let random = SIPBranch.random()
        let branch = loopHash.map { ProxyCore.makeBranch(loopHash: $0, unique: String(random.dropFirst(7))) } ?? random
        return "SIP/2.0/\(transport.rawValue) \(host):\(transport == .tls ? tlsPort : port);branch=\(branch);rport"
    }

    private func resolve(_ uri: SIPURI) -> SIPEndpoint? {
        let transport = uri.transport.flatMap { SIPTransportProtocol(token: $0) } ?? (uri.scheme == "sips" ? .tls : .udp)
        var host = uri.host
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let port = uri.port ?? (transport == .tls ? 5061 : 5060)
        guard let address = try? SocketAddress(ipAddress: host, port: port) else {
            logger.info("no route to \(uri): only IP-literal next hops are reachable without DNS")
            return nil
        }
        return SIPEndpoint(transport: transport, address: address)
    }

    /// TS 24.229 §5.2.6.3.3: the network asserts the caller's identity; clients may only prefer one of their own.
    private func assertIdentity(_ request: inout SIPRequest, flow: PCSCF.RegisteredFlow) {
        let preferred = request.headers.first("P-Preferred-Identity")
            .flatMap { try? NameAddr(parsing: $0) }.flatMap { PublicIdentity.normalize($0.uri) }
        request.headers.remove("P-Preferred-Identity")
        // The trust domain starts here (TS 24.229 §5.2.6.3): a UE may not assert these itself.
        for name in ["P-Asserted-Identity", "P-Served-User", "P-Profile-Key", "P-Charging-Vector",
                     "P-Charging-Function-Addresses", "P-Called-Party-ID", "P-Visited-Network-ID"] {
            request.headers.remove(name)
        }
        let identity = preferred.flatMap { p in flow.publicIdentities.contains(p) ? p : nil } ?? flow.publicIdentities.first
        if let identity { request.headers.add("P-Asserted-Identity", "<\(identity)>") }
    }

    /// RFC 4028: pass session timers through; add Session-Expires when absent; refuse below Min-SE.
    private func checkSessionTimer(_ request: inout SIPRequest) -> SIPResponse? {
        if let value = request.headers.first("Session-Expires") {
            guard let seconds = Self.sessionExpiresSeconds(value) else {
                return stack.element.reply(request, 400, reason: "Bad Header: Session-Expires")
            }
            if seconds < minSessionExpires {
                var r = stack.element.reply(request, 422)
                r.headers.add("Min-SE", String(minSessionExpires))
                return r
            }
        } else {
            request.headers.add("Session-Expires", String(sessionExpires))
        }
        return nil
    }

    /// The delta-seconds of a Session-Expires value (RFC 4028 §4: delta-seconds *(SEMI se-params)), nil when
    /// not a number. Cut at the first ";" byte, as the parser reads it: a ";" followed by a combining mark is
    /// one Character to `String.split`, which would have missed it.
    static func sessionExpiresSeconds(_ value: String) -> Int? {
        ByteSplitter.split(value, on: UInt8(ascii: ";")).first.flatMap { Int(ByteSplitter.trimmingWSP($0)) }
    }

    /// The P-CSCF looks at SDP (TS 24.229 §6.2): a body declared as SDP must at least be SDP.
    private func checkSDP(_ request: SIPRequest) -> SIPResponse? {
        guard request.mediaType == "application/sdp", !request.body.isEmpty else { return nil }
        if SDPCheck.isPlausible(request.body) { return nil }
        var r = stack.element.reply(request, 488)
        r.headers.add("Warning", "399 \(host) \"Malformed SDP\"")
        return r
    }

}
