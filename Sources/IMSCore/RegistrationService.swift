import DigestAuth
import HSS
import ICSCF
import IMSModel
import Logging
import NIOCore
import PCSCF
import SCSCF
import SIPCore
import SIPTransaction
import SIPTransport
#if canImport(Glibc)
import Glibc
#endif

/// REGISTER through P-CSCF → I-CSCF → S-CSCF, reg-event subscriptions, binding expiry and
/// persistence. All on the SIP event loop; the roles call each other directly.
/// Confined to the SIP event loop (`@unchecked Sendable` only so NIO callbacks can capture it).
final class RegistrationService: @unchecked Sendable {
    unowned let stack: SIPStack
    let hss: HSSCache
    let pcscf: PCSCF
    let icscf: ICSCF
    let scscf: SCSCFRegistrar
    let journal: RegistrationJournal?
    let logger: Logger
    var regEvents = RegEventSubscriptions()
    /// Digest brute-force protection: per source address *and* user name (so one student mistyping
    /// behind a classroom NAT does not lock out the others), plus a looser per-address limit that
    /// catches password spraying across many user names.
    var userThrottle = AuthThrottle(maxFailures: 5, window: 60, penalty: 120)
    var addressThrottle = AuthThrottle(maxFailures: 60, window: 60, penalty: 300)
    /// Sets served a terminating request while unregistered (TS 29.228 UNREGISTERED state).
    var unregisteredSets: Set<Int64> = []
    /// Where each reg-event subscriber is reached (its SUBSCRIBE's flow).
    private var subscriberPeers: [String: SIPEndpoint] = [:]
    private var notifyTransactions: [ClientTransactionID: String] = [:]
    private var expiryTimer: Scheduled<Void>?
    private var expiryDeadline: Int64?
    let ourContact: String
    let viaHost: String

    init(stack: SIPStack, hss: HSSCache, pcscf: PCSCF, icscf: ICSCF, scscf: SCSCFRegistrar, journal: RegistrationJournal?,
         logger: Logger, hostPort: String) {
        self.stack = stack
        self.hss = hss
        self.pcscf = pcscf
        self.icscf = icscf
        self.scscf = scscf
        self.journal = journal
        self.logger = logger
        self.ourContact = "<sip:scscf@\(hostPort)>"
        self.viaHost = hostPort
    }

    static func wallClock() -> Int64 { Int64(time(nil)) }

    // MARK: REGISTER

    func handleRegister(_ request: SIPRequest, transaction id: ServerTransactionID, from source: SIPEndpoint) {
        let now = Self.wallClock()
        let started = ContinuousClock.now
        let metrics = stack.metrics
        let flow = source.description
        let ip = source.ipAddress
        // The per-user key needs the Authorization parsed (the S-CSCF parses it again): only worth it while
        // some user is throttled or failing, or when this REGISTER failed.
        func userKey() -> String {
            ip + "|" + (request.headers.first("Authorization").flatMap { try? DigestCredentials.parse($0) }?.username ?? "")
        }
        let tracksUsers = userThrottle.trackedSources > 0
        if let wait = (tracksUsers ? userThrottle.blocked(userKey(), now: now) : nil) ?? addressThrottle.blocked(ip, now: now) {
            var response = stack.element.reply(request, 403, reason: "Forbidden")
            response.headers.add("Retry-After", String(wait))
            metrics.authThrottled.increment()
            stack.respond(id, response)
            return
        }
        var request = request
        // The P-CSCF's edits (Path, Supported: path, P-Visited-Network-ID; TS 24.229 §5.2.2.1) are for
        // the registrar's 200. A REGISTER without credentials only ever gets the S-CSCF's challenge or a
        // refusal, built from Via/From/To/Call-ID/CSeq alone (RFC 3261 §8.2.6.2): in one process the
        // edits would be made and dropped unseen, half of every registration's P-CSCF work.
        if request.headers.contains("Authorization") {
            pcscf.processRegister(&request, flow: flow)
        }
        switch icscf.selectForRegistration(request) {
        case .reject(let status, let reason):
            stack.respond(id, stack.element.reply(request, status, reason: reason))
            return
        case .scscf:
            break
        }
        switch scscf.register(request, flow: flow, now: now) {
        case .respond(var response):
            response.headers.add("Server", SIPElement.serverName)
            switch response.statusCode {
            case 401: metrics.authChallenge.increment()
            case 403 where request.headers.contains("Authorization"): metrics.authFailure.increment()
            case 200: metrics.authSuccess.increment()
            default: break
            }
            metrics.registerDuration.record(ContinuousClock.now - started)
            if response.statusCode == 403, request.headers.contains("Authorization") {
                let userBlocked = userThrottle.recordFailure(userKey(), now: now)
                let addressBlocked = addressThrottle.recordFailure(ip, now: now)
                if userBlocked || addressBlocked {
                    logger.notice("too many failed authentications from \(ip): refused for a while")
                }
            }
            pcscf.processRegisterResponse(response, flow: flow, now: now)
            stack.respond(id, response)
        case .registered(var response, let change, _):
            response.headers.add("Server", SIPElement.serverName)
            if tracksUsers { userThrottle.recordSuccess(userKey()) }
            metrics.authSuccess.increment()
            pcscf.processRegisterResponse(response, flow: flow, now: now)
            bindingsChanged(change, now: now)
            if let journal {
                let final = response
                let answered = request
                journal.record(change) { [self] durable in
                    let took = ContinuousClock.now - started
                    metrics.registerDuration.record(took)
                    // REGISTER completion includes the database commit: a slow database is overload too.
                    stack.load.record(completionLatency: Double(took.components.attoseconds) / 1e18 + Double(took.components.seconds),
                                      now: SIPTransportLayer.seconds(NIODeadline.now()))
                    if durable {
                        stack.respond(id, final)
                    } else {
                        // Never a 200 for a binding that is not on disk: the client retries later (the
                        // change stays queued and is written once the database accepts it).
                        var unavailable = stack.element.reply(answered, 503, reason: "Service Unavailable")
                        unavailable.headers.add("Retry-After", "5")
                        unavailable.headers.add("Server", SIPElement.serverName)
                        stack.respond(id, unavailable)
                    }
                }
            } else {
                stack.respond(id, response)
            }
        }
    }

    /// Everything that follows a change of bindings: reg-event NOTIFYs and the expiry timer.
    func bindingsChanged(_ change: RegistrationChange, now: Int64) {
        guard !change.isEmpty else { return }
        notifyWatchers(change, now: now)
        scheduleExpiry()
    }

    /// Restores bindings loaded from the database (start-up).
    func restore(_ bindings: [(aor: String, binding: Binding)]) {
        let now = Self.wallClock()
        var byAoR: [String: [Binding]] = [:]
        for (aor, b) in bindings { byAoR[aor, default: []].append(b) }
        for (aor, list) in byAoR { scscf.registrar.restore(aor: aor, bindings: list, now: now) }
        scheduleExpiry()
    }

    /// Removes the bindings of AoRs whose subscriber no longer exists (after a provisioning change).
    func dropOrphanedBindings() {
        let now = Self.wallClock()
        for aor in scscf.registrar.allAoRs where hss.registrationSet(impu: aor) == nil {
            let change = scscf.registrar.removeAll(aor: aor, now: now)
            journal?.record(change)
            bindingsChanged(change, now: now)
        }
    }

    private func scheduleExpiry() {
        let next = [scscf.registrar.nextExpiry, regEvents.nextExpiry].compactMap { $0 }.min()
        guard let next else {
            expiryTimer?.cancel(); expiryTimer = nil; expiryDeadline = nil
            return
        }
        if let current = expiryDeadline, current <= next, expiryTimer != nil { return }
        expiryTimer?.cancel()
        expiryDeadline = next
        let delay = max(0, next - Self.wallClock())
        expiryTimer = stack.eventLoop.scheduleTask(in: .seconds(delay)) { [self] in
            expiryTimer = nil
            expiryDeadline = nil
            expireNow()
        }
    }

    private func expireNow() {
        let now = Self.wallClock()
        for change in scscf.registrar.expire(now: now) {
            journal?.record(change)
            notifyWatchers(change, now: now)
        }
        for (sub, notify) in regEvents.expire(now: now, ourContact: ourContact, document: { [self] aor, version in
            document(aor: aor, version: version, now: now)
        }) {
            send(notify, subscription: sub)
            subscriberPeers[sub.id] = nil
        }
        scheduleExpiry()
    }

    // MARK: reg-event (RFC 3680)

    func handleSubscribe(_ request: SIPRequest, transaction id: ServerTransactionID, from source: SIPEndpoint) {
        let now = Self.wallClock()
        guard let uri = request.uri, let impu = PublicIdentity.normalize(uri), let set = hss.registrationSet(impu: impu) else {
            stack.respond(id, stack.element.reply(request, 404))
            return
        }
        // Who may watch: a UE registered on this flow with an identity of the same set (TS 24.229 §5.4.2.1.1).
        let watcherAllowed: Bool
        if let registered = pcscf.registeredFlow(source.description, now: now) {
            watcherAllowed = registered.publicIdentities.contains { set.publicIdentities.contains($0) }
        } else {
            watcherAllowed = false
        }
        guard watcherAllowed || request.toTag != nil else {
            stack.respond(id, stack.element.reply(request, 403, reason: "Forbidden (not registered)"))
            return
        }
        let aor = set.defaultIdentity
        let outcome = regEvents.subscribe(request, aor: aor, peer: source.description, ourContact: ourContact,
                                          document: { [self] version, _ in document(aor: aor, version: version, now: now) },
                                          now: now, newTag: SIPElement.newTag)
        switch outcome {
        case .rejected(let status, let reason, let headers):
            var response = stack.element.reply(request, status, reason: reason)
            for h in headers { response.headers.add(h.name, h.value) }
            stack.respond(id, response)
        case .accepted(let status, let expires, let localTag, let notify):
            var response = request.makeResponse(statusCode: status, toTag: request.toTag ?? localTag)
            response.headers.add("Expires", String(expires))
            response.headers.add("Contact", ourContact)
            response.headers.add("Server", SIPElement.serverName)
            stack.respond(id, response)
            if let notify, let callID = request.callID, let remoteTag = request.fromTag {
                let subID = callID + "|" + remoteTag
                subscriberPeers[subID] = source
                if let sub = regEvents.subscriptions[subID] {
                    send(notify, subscription: sub)
                } else {
                    send(notify, to: source, subscriptionID: subID)
                    subscriberPeers[subID] = nil
                }
            }
            scheduleExpiry()
        }
    }

    private func notifyWatchers(_ change: RegistrationChange, now: Int64) {
        let aor = change.aor
        for (sub, notify) in regEvents.notifyAll(aor: aor, ourContact: ourContact, now: now, document: { [self] version, _ in
            document(aor: aor, version: version, now: now, change: change)
        }) {
            send(notify, subscription: sub)
        }
    }

    private func send(_ notify: SIPRequest, subscription: RegEventSubscriptions.Subscription) {
        guard let peer = subscriberPeers[subscription.id] else { return }
        send(notify, to: peer, subscriptionID: subscription.id)
    }

    private func send(_ notify: SIPRequest, to peer: SIPEndpoint, subscriptionID: String) {
        var request = notify
        request.headers.prepend("Via", "SIP/2.0/\(peer.transport.rawValue) \(viaHost);branch=\(SIPBranch.random())")
        if let id = stack.sendRequest(request, to: peer) {
            notifyTransactions[id] = subscriptionID
        }
    }

    /// A NOTIFY's final response: 481 or a timeout ends the subscription (RFC 6665 §4.1.3).
    func handleNotifyResult(_ id: ClientTransactionID, status: Int) {
        guard let subID = notifyTransactions.removeValue(forKey: id) else { return }
        if status == 481 || status == 408 || status >= 500 && status != 503 {
            regEvents.remove(id: subID)
            subscriberPeers[subID] = nil
        }
    }

    /// The reginfo document for an AoR: one registration element per public identity of its set.
    /// With a `change`, the contacts it touched carry its events (created, refreshed...), and the
    /// ones it removed appear once more as terminated with the reason (expired, unregistered...).
    func document(aor: String, version: Int, now: Int64, change: RegistrationChange? = nil) -> String {
        let bindings = scscf.registrar.bindings(for: aor, now: now)
        var events: [String: String] = [:]
        var entries: [RegInfo.ContactEntry] = []
        for (event, binding) in change?.changes ?? [] { events[binding.key] = event.rawValue }
        for b in bindings {
            entries.append(RegInfo.ContactEntry(binding: b, state: "active", event: events[b.key] ?? "registered"))
        }
        for (event, binding) in change?.changes ?? [] where !bindings.contains(where: { $0.key == binding.key }) {
            entries.append(RegInfo.ContactEntry(binding: binding, state: "terminated", event: event.rawValue))
        }
        let identities = hss.registrationSet(impu: aor)?.associatedIdentities ?? [aor]
        let registrations = identities.enumerated().map { index, impu in
            RegInfo.Registration(aor: impu, id: "r\(index)", state: bindings.isEmpty ? "terminated" : "active",
                                 contacts: entries)
        }
        return RegInfo.document(version: version, state: .full, registrations: registrations, now: now)
    }
}
