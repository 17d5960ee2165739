import SIPCore

/// The reg-event notifier of the S-CSCF (RFC 3680, RFC 6665; TS 24.229 §5.4.2.1.2): dialogs created
/// by `SUBSCRIBE Event: reg`, a NOTIFY with the full reginfo on subscribe, on refresh and on every
/// registration change, and a final NOTIFY when the subscription ends.
/// Sans-IO: requests come out as values; the caller sends them and owns the clock (Unix seconds).
public struct RegEventSubscriptions: Sendable {
    public struct Subscription: Sendable, Hashable {
        public var id: String           // Call-ID + remote tag
        public var aor: String          // the registration set's default identity
        public var callID: String
        public var localTag: String
        public var remoteTag: String
        public var localURI: String     // what the subscriber put in To (the watched identity)
        public var remoteURI: String    // From of the SUBSCRIBE
        public var remoteTarget: String // Contact of the SUBSCRIBE
        public var routeSet: [String]
        public var localCSeq: UInt32
        public var remoteCSeq: UInt32
        public var expiresAt: Int64
        public var version: Int
        /// Opaque to this type: where the subscriber's requests came from (the flow), for the caller.
        public var peer: String
    }

    public enum Outcome: Sendable {
        /// Answer with `response` (status + headers to add) then send `notify`.
        case accepted(status: Int, expires: Int, localTag: String, notify: SIPRequest?)
        case rejected(status: Int, reason: String, headers: [SIPHeader])
    }

    public var maxExpires: Int
    public var minExpires: Int
    public var defaultExpires: Int
    public var maxSubscriptionsPerAoR: Int
    public private(set) var subscriptions: [String: Subscription] = [:]

    public init(maxExpires: Int = 3600, minExpires: Int = 60, defaultExpires: Int = 600, maxSubscriptionsPerAoR: Int = 10) {
        self.maxExpires = maxExpires
        self.minExpires = minExpires
        self.defaultExpires = defaultExpires
        self.maxSubscriptionsPerAoR = maxSubscriptionsPerAoR
    }

    public var count: Int { subscriptions.count }

    /// Handles a SUBSCRIBE for `Event: reg` whose Request-URI identity belongs to the set keyed by `aor`.
    /// `contactHeaderHost` is how NOTIFYs say where to reach us (`sip:scscf@host:port`).
    public mutating func subscribe(_ request: SIPRequest, aor: String, peer: String, ourContact: String,
                                   document: (Int, RegInfo.DocumentState) -> String, now: Int64, newTag: () -> String) -> Outcome {
        // The package ends at the first ";" byte (RFC 6665 §8.4 Event = event-type *(SEMI event-param)), as the
        // parser reads it: `String.split` would not see a ";" followed by a combining mark.
        guard let event = request.headers.first("Event"),
              ByteSplitter.split(event, on: UInt8(ascii: ";")).first.map({ ByteSplitter.trimmingWSP($0).lowercased() }) == "reg" else {
            return .rejected(status: 489, reason: "Bad Event", headers: [SIPHeader(name: "Allow-Events", value: "reg")])
        }
        if let accept = request.headers.first("Accept"), !accept.lowercased().contains("application/reginfo+xml") && !accept.contains("*/*") {
            return .rejected(status: 406, reason: "Not Acceptable", headers: [SIPHeader(name: "Accept", value: RegInfo.contentType)])
        }
        guard let callID = request.callID, let from = request.from, let remoteTag = from.tag, let cseq = request.cseq,
              let contact = request.contacts.first, let to = request.to else {
            return .rejected(status: 400, reason: "Missing Dialog Headers", headers: [])
        }
        var expires = request.expires ?? defaultExpires
        if expires > 0 && expires < minExpires {
            return .rejected(status: 423, reason: "Interval Too Brief", headers: [SIPHeader(name: "Min-Expires", value: String(minExpires))])
        }
        expires = min(expires, maxExpires)
        let key = callID + "|" + remoteTag

        if let toTag = to.tag {
            // A refresh or an unsubscribe inside an existing dialog.
            guard var sub = subscriptions[key], sub.localTag == toTag else {
                return .rejected(status: 481, reason: "Subscription Does Not Exist", headers: [])
            }
            guard cseq.sequence > sub.remoteCSeq else {
                return .rejected(status: 500, reason: "CSeq Out Of Order", headers: [])
            }
            sub.remoteCSeq = cseq.sequence
            sub.remoteTarget = contact.uri.description
            sub.expiresAt = now + Int64(expires)
            subscriptions[key] = sub
            if expires == 0 {
                let notify = makeNotify(&sub, body: document(sub.version, .full), state: "terminated;reason=timeout", ourContact: ourContact)
                subscriptions[key] = nil
                return .accepted(status: 200, expires: 0, localTag: sub.localTag, notify: notify)
            }
            let notify = makeNotify(&sub, body: document(sub.version, .full), state: "active;expires=\(expires)", ourContact: ourContact)
            subscriptions[key] = sub
            return .accepted(status: 200, expires: expires, localTag: sub.localTag, notify: notify)
        }

        if expires > 0 && subscriptions.values.filter({ $0.aor == aor }).count >= maxSubscriptionsPerAoR {
            return .rejected(status: 403, reason: "Too Many Subscriptions", headers: [])
        }
        var sub = Subscription(id: key, aor: aor, callID: callID, localTag: newTag(), remoteTag: remoteTag,
                               localURI: to.uri.description, remoteURI: from.uri.description,
                               remoteTarget: contact.uri.description,
                               routeSet: request.headers.values("Record-Route"), localCSeq: 0,
                               remoteCSeq: cseq.sequence, expiresAt: now + Int64(expires), version: 0, peer: peer)
        // RFC 6665 §4.2.1.2: even a fetch (Expires: 0) gets one NOTIFY with the current state.
        let state = expires == 0 ? "terminated;reason=timeout" : "active;expires=\(expires)"
        let notify = makeNotify(&sub, body: document(sub.version, .full), state: state, ourContact: ourContact)
        if expires > 0 { subscriptions[key] = sub }
        return .accepted(status: 200, expires: expires, localTag: sub.localTag, notify: notify)
    }

    /// NOTIFYs for every subscription watching `aor` after its registration changed.
    public mutating func notifyAll(aor: String, ourContact: String, now: Int64,
                                   document: (Int, RegInfo.DocumentState) -> String) -> [(Subscription, SIPRequest)] {
        var out: [(Subscription, SIPRequest)] = []
        for key in subscriptions.keys.sorted() {
            guard var sub = subscriptions[key], sub.aor == aor, sub.expiresAt > now else { continue }
            let remaining = Int(sub.expiresAt - now)
            let notify = makeNotify(&sub, body: document(sub.version, .full), state: "active;expires=\(remaining)", ourContact: ourContact)
            subscriptions[key] = sub
            out.append((sub, notify))
        }
        return out
    }

    /// Ends subscriptions whose time is up, with a final NOTIFY each (RFC 6665 §4.2.2).
    public mutating func expire(now: Int64, ourContact: String, document: (String, Int) -> String) -> [(Subscription, SIPRequest)] {
        var out: [(Subscription, SIPRequest)] = []
        for key in subscriptions.keys.sorted() {
            guard var sub = subscriptions[key], sub.expiresAt <= now else { continue }
            let notify = makeNotify(&sub, body: document(sub.aor, sub.version), state: "terminated;reason=timeout", ourContact: ourContact)
            subscriptions[key] = nil
            out.append((sub, notify))
        }
        return out
    }

    /// Ends a subscription whose NOTIFY failed with 481 or a timeout (RFC 6665 §4.1.2.4).
    public mutating func remove(id: String) { subscriptions[id] = nil }

    public var nextExpiry: Int64? { subscriptions.values.map(\.expiresAt).min() }

    private func makeNotify(_ sub: inout Subscription, body: String, state: String, ourContact: String) -> SIPRequest {
        sub.localCSeq += 1
        sub.version += 1
        var headers = SIPHeaders()
        for route in sub.routeSet { headers.add("Route", route) }
        headers.add("Max-Forwards", "70")
        headers.add("From", "<\(sub.localURI)>;tag=\(sub.localTag)")
        headers.add("To", "<\(sub.remoteURI)>;tag=\(sub.remoteTag)")
        headers.add("Call-ID", sub.callID)
        headers.add("CSeq", "\(sub.localCSeq) NOTIFY")
        headers.add("Event", "reg")
        headers.add("Subscription-State", state)
        headers.add("Contact", ourContact)
        headers.add("Content-Type", RegInfo.contentType)
        return SIPRequest(method: .notify, requestURI: sub.remoteTarget, headers: headers, body: Array(body.utf8))
    }
}
