import SIPCore

/// A REGISTER reduced to what the registrar rules need (RFC 3261 §10.3).
public struct RegisterRequest: Sendable {
    public struct Contact: Sendable, Hashable {
        public var uri: String
        public var parameters: SIPParameters
        public var expires: Int?
        public var q: Double?
        public var instance: String?
        public var regID: Int?
    }

    public var contacts: [Contact]
    public var wildcard: Bool
    public var expiresHeader: Int?
    public var callID: String
    public var cseq: UInt32
    public var path: [String]
    public var impi: String
    public var flow: String?
    public var userAgent: String?

    public init(contacts: [Contact], wildcard: Bool = false, expiresHeader: Int? = nil, callID: String, cseq: UInt32,
                path: [String] = [], impi: String, flow: String? = nil, userAgent: String? = nil) {
        self.contacts = contacts
        self.wildcard = wildcard
        self.expiresHeader = expiresHeader
        self.callID = callID
        self.cseq = cseq
        self.path = path
        self.impi = impi
        self.flow = flow
        self.userAgent = userAgent
    }

    /// Extracts the registration data from a REGISTER; malformed Contact/Expires/CSeq → 400 naming it.
    public static func from(_ request: SIPRequest, impi: String, flow: String?, maxContacts: Int) throws(RegistrarError) -> RegisterRequest {
        guard let callID = request.callID, !callID.isEmpty else { throw RegistrarError(400, "Missing Call-ID") }
        guard let cseq = request.cseq else { throw RegistrarError(400, "Bad Header: CSeq") }
        var expiresHeader: Int?
        if let raw = request.headers.first("Expires") {
            guard let value = request.expires else { throw RegistrarError(400, "Bad Header: Expires \"\(raw.prefix(40))\"") }
            expiresHeader = value
        }
        let values = request.headers.values("Contact")
        if values.count > maxContacts {
            throw RegistrarError(403, "Too Many Contacts (max \(maxContacts))")
        }
        // The parser's validation has usually parsed them already (not for `*`).
        let parsed = request.headers.parsedNameAddrs("Contact").flatMap { $0.count == values.count ? $0 : nil }
        var contacts: [Contact] = []
        var wildcard = false
        for (index, value) in values.enumerated() {
            if value.trimmingSpaces == "*" {
                wildcard = true
                continue
            }
            let nameAddr: NameAddr
            if let parsed { nameAddr = parsed[index] } else {
                do { nameAddr = try NameAddr(parsing: value) } catch {
                    throw RegistrarError(400, "Bad Header: Contact")
                }
            }
            guard case .sip = nameAddr.uri else {
                // A UE must be reachable by SIP; tel: or other schemes cannot be bindings.
                throw RegistrarError(400, "Bad Contact URI scheme")
            }
            var expires: Int?
            if let raw = nameAddr.parameters["expires"] {
                guard let text = raw, let value = nameAddr.expires else {
                    throw RegistrarError(400, "Bad Contact expires \"\((raw ?? "").prefix(20))\"")
                }
                _ = text
                expires = value
            }
            var q: Double?
            if let raw = nameAddr.parameters["q"] {
                guard let text = raw, let value = Self.parseQValue(text) else {
                    throw RegistrarError(400, "Bad Contact q-value")
                }
                q = value
            }
            var instance: String?
            if let raw = nameAddr.parameters["+sip.instance"], let text = raw {
                instance = text.unquoted
            }
            var regID: Int?
            // RFC 5626 §6: without +sip.instance the reg-id is ignored (plain RFC 3261 binding).
            if instance != nil, let raw = nameAddr.parameters["reg-id"] {
                // reg-id = 1*DIGIT, 1 to 2^31-1 (RFC 5626 §4.2.1).
                guard let text = raw, !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                      let value = Int(text), value > 0, value <= Int(Int32.max) else {
                    throw RegistrarError(400, "Bad Contact reg-id")
                }
                regID = value
            }
            contacts.append(Contact(uri: nameAddr.uri.description, parameters: nameAddr.parameters, expires: expires,
                                    q: q, instance: instance, regID: regID))
        }
        if wildcard && (!contacts.isEmpty || values.count != 1) {
            throw RegistrarError(400, "Wildcard Contact must be alone")
        }
        if wildcard && expiresHeader != 0 {
            throw RegistrarError(400, "Wildcard Contact requires Expires: 0")
        }
        let path = request.headers.values("Path")
        return RegisterRequest(contacts: contacts, wildcard: wildcard, expiresHeader: expiresHeader, callID: callID,
                               cseq: cseq.sequence, path: path, impi: impi, flow: flow,
                               userAgent: request.headers.first("User-Agent"))
    }

    /// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ) (RFC 3261 §25.1).
    static func parseQValue(_ text: String) -> Double? {
        let b = Array(text.utf8)
        guard let first = b.first, first == UInt8(ascii: "0") || first == UInt8(ascii: "1") else { return nil }
        if b.count == 1 { return first == UInt8(ascii: "1") ? 1 : 0 }
        guard b[1] == UInt8(ascii: "."), b.count <= 5 else { return nil }
        let frac = b[2...]
        if first == UInt8(ascii: "1") { return frac.allSatisfy { $0 == UInt8(ascii: "0") } ? 1 : nil }
        var thousandths = 0, scale = 100
        for d in frac {
            guard d >= 0x30 && d <= 0x39 else { return nil }
            thousandths += Int(d - 0x30) * scale
            scale /= 10
        }
        return Double(thousandths) / 1000
    }
}

/// A registrar refusal: status, reason phrase, extra headers (e.g. Min-Expires for 423).
public struct RegistrarError: Error, Sendable, Equatable {
    public var status: Int
    public var reason: String
    public var headers: [SIPHeader]
    public init(_ status: Int, _ reason: String, headers: [SIPHeader] = []) {
        self.status = status
        self.reason = reason
        self.headers = headers
    }
}

/// How bindings changed, for the 200 OK, reg-event NOTIFYs and the persistence journal.
public struct RegistrationChange: Sendable, Equatable {
    public enum Event: String, Sendable {
        case registered, created, refreshed, shortened, expired, deactivated, unregistered, rejected
    }
    public var aor: String
    public var changes: [(event: Event, binding: Binding)] = []
    public init(aor: String) { self.aor = aor }
    public var isEmpty: Bool { changes.isEmpty }

    public static func == (a: RegistrationChange, b: RegistrationChange) -> Bool {
        a.aor == b.aor && a.changes.count == b.changes.count
            && zip(a.changes, b.changes).allSatisfy { $0.event == $1.event && $0.binding == $1.binding }
    }
}

/// Registrar limits.
public struct RegistrarPolicy: Sendable {
    /// `reg_max_expires`: every registration is capped here; also the default when none is asked.
    public var maxExpires: Int
    /// Below this (but above 0) → 423 Interval Too Brief (RFC 3261 §10.3 step 7).
    public var minExpires: Int
    public var maxBindingsPerAoR: Int
    public var maxContactsPerRequest: Int
    public init(maxExpires: Int = 300, minExpires: Int = 1, maxBindingsPerAoR: Int = 20, maxContactsPerRequest: Int = 20) {
        self.maxExpires = maxExpires
        self.minExpires = minExpires
        self.maxBindingsPerAoR = maxBindingsPerAoR
        self.maxContactsPerRequest = maxContactsPerRequest
    }
}

/// The location service: bindings per address-of-record and the RFC 3261 §10.3 update rules.
/// Sans-IO: time is passed in (Unix seconds); expiries come out of `expire(now:)`.
public struct Registrar: Sendable {
    public var policy: RegistrarPolicy
    private(set) var aors: [String: [Binding]] = [:]
    private(set) var expiryQueue = ExpiryQueue()
    /// Bindings stored over all AoRs (live or not yet expired by `expire(now:)`).
    private var storedCount = 0

    public init(policy: RegistrarPolicy = RegistrarPolicy()) { self.policy = policy }

    public var aorCount: Int { aors.count }
    public var bindingCount: Int { storedCount }
    /// When the next binding expires (Unix seconds), for the one expiry timer. Stale queue entries (refreshed or
    /// removed bindings) never surface here: nil when nothing is registered.
    public var nextExpiry: Int64? { expiryQueue.peekDeadline }

    public func bindings(for aor: String, now: Int64) -> [Binding] {
        (aors[aor] ?? []).filter { $0.expiresAt > now }
    }
    public var allAoRs: [String] { Array(aors.keys) }

    /// Applies a REGISTER to an AoR. Atomic: on error nothing changes.
    /// Bindings whose time had come but that `expire(now:)` has not collected yet are reported first, as `.expired`.
    public mutating func register(_ request: RegisterRequest, aor: String, now: Int64) throws(RegistrarError) -> RegistrationChange {
        var change = RegistrationChange(aor: aor)
        var current = takeLive(aor, now: now, into: &change)

        if request.wildcard {
            // RFC 3261 §10.3 step 6: remove every binding, unless one with the same Call-ID has a newer CSeq.
            for b in current where b.callID == request.callID && b.cseq >= request.cseq {
                throw RegistrarError(400, "CSeq Out Of Order")
            }
            for b in current { change.changes.append((.unregistered, b)) }
            store(aor, [])
            return change
        }

        // Expiry per contact (§10.3 step 7): the contact's expires parameter, else the Expires header, else the
        // default; below the minimum → 423 for the whole request; capped at the maximum.
        var expiries: [Int] = []
        expiries.reserveCapacity(request.contacts.count)
        for contact in request.contacts {
            let expires = contact.expires ?? request.expiresHeader ?? policy.maxExpires
            if expires > 0 && expires < policy.minExpires {
                throw RegistrarError(423, "Interval Too Brief", headers: [SIPHeader(name: "Min-Expires", value: String(policy.minExpires))])
            }
            expiries.append(min(expires, policy.maxExpires))
        }
        // RFC 5626 §6: a REGISTER with a reg-id registers one flow; it may also remove others (expires 0).
        if request.contacts.contains(where: { $0.instance != nil && $0.regID != nil }),
           expiries.filter({ $0 > 0 }).count > 1 {
            throw RegistrarError(400, "Multiple Contacts With reg-id")
        }

        let before = current.count
        // Keys already written by this request: a second Contact for the same binding is processed in order
        // against the first one's result, not checked again against the request's own CSeq.
        var touched = Set<String>()
        for (contact, expires) in zip(request.contacts, expiries) {
            let key = Self.bindingKey(contact)
            if let index = current.firstIndex(where: { $0.key == key }) {
                let existing = current[index]
                // §10.3 step 8: same Call-ID needs a higher CSeq, else the whole update fails.
                if !touched.contains(key) && existing.callID == request.callID && request.cseq <= existing.cseq {
                    throw RegistrarError(400, "CSeq Out Of Order")
                }
                if expires == 0 {
                    current.remove(at: index)
                    change.changes.append((.unregistered, existing))
                } else {
                    let updated = makeBinding(contact, key: key, request: request, expires: expires, now: now,
                                              registeredAt: existing.registeredAt)
                    current[index] = updated
                    // RFC 3680 §5.2: a REGISTER that adds a contact is `registered`, one that renews it is
                    // `refreshed` (even to a shorter time: `shortened` is for the registrar's own cuts).
                    // A binding that now points at another contact (an instance moved) counts as newly registered;
                    // the same URI written differently (host case, escaping) does not (§19.1.4).
                    let moved = !Self.equivalentURIs(existing.contactURI, updated.contactURI)
                    change.changes.append((moved ? .registered : .refreshed, updated))
                }
            } else if expires > 0 {
                // RFC 5626 §6: bindings of the same instance with different reg-ids are different flows and coexist;
                // the same instance and reg-id is the same binding (found above).
                let binding = makeBinding(contact, key: key, request: request, expires: expires, now: now, registeredAt: now)
                current.append(binding)
                change.changes.append((.registered, binding))
            }
            touched.insert(key)
        }
        // Only a request that adds bindings can overflow the limit (a refresh never fails because the limit dropped).
        if current.count > policy.maxBindingsPerAoR && current.count > before {
            throw RegistrarError(403, "Too Many Bindings (max \(policy.maxBindingsPerAoR))")
        }
        store(aor, current)
        return change
    }

    /// Removes every binding of an AoR (administrative deregistration, or a deleted subscriber).
    /// Bindings already due are reported as `.expired`.
    public mutating func removeAll(aor: String, now: Int64, event: RegistrationChange.Event = .deactivated) -> RegistrationChange {
        var change = RegistrationChange(aor: aor)
        for b in takeLive(aor, now: now, into: &change) { change.changes.append((event, b)) }
        store(aor, [])
        return change
    }

    /// Removes the bindings of a flow that failed (RFC 5626 §5.3 "flow failed") — returns what went, one change
    /// per AoR, sorted by AoR. Only outbound bindings (instance + reg-id) are tied to their flow.
    public mutating func removeFlow(_ flow: String, now: Int64) -> [RegistrationChange] {
        var out: [RegistrationChange] = []
        for aor in aors.keys.sorted() {
            guard let list = aors[aor], list.contains(where: { Self.isBound(to: flow, $0) }) else { continue }
            var change = RegistrationChange(aor: aor)
            let live = takeLive(aor, now: now, into: &change)
            let kept = live.filter { b in
                if Self.isBound(to: flow, b) { change.changes.append((.deactivated, b)); return false }
                return true
            }
            store(aor, kept)
            out.append(change)
        }
        return out
    }

    /// Removes bindings whose time has come. Returns one change per AoR affected, sorted by AoR.
    public mutating func expire(now: Int64) -> [RegistrationChange] {
        var byAoR: [String: RegistrationChange] = [:]
        while let entry = expiryQueue.popDue(now: now) {
            guard var list = aors[entry.aor],
                  let index = list.firstIndex(where: { $0.key == entry.key && $0.expiresAt == entry.deadline }) else {
                continue // refreshed or removed since: a stale queue entry
            }
            let binding = list.remove(at: index)
            storedCount -= 1
            byAoR[entry.aor, default: RegistrationChange(aor: entry.aor)].changes.append((.expired, binding))
            if list.isEmpty { aors[entry.aor] = nil } else { aors[entry.aor] = list }
        }
        pruneQueue()
        return byAoR.keys.sorted().map { byAoR[$0]! }
    }

    /// Puts back bindings loaded from the database after a restart (already-expired ones are skipped, and so are
    /// ones whose key is already bound, or repeated in `bindings`).
    public mutating func restore(aor: String, bindings: [Binding], now: Int64) {
        let live = bindings.filter { $0.expiresAt > now }
        guard !live.isEmpty else { return }
        var merged = aors[aor] ?? []
        for b in live where !merged.contains(where: { $0.key == b.key }) { merged.append(b) }
        store(aor, merged)
    }

    /// The AoR's bindings still alive at `now`; the others are reported as `.expired` (the caller stores the result).
    private func takeLive(_ aor: String, now: Int64, into change: inout RegistrationChange) -> [Binding] {
        var live: [Binding] = []
        for b in aors[aor] ?? [] {
            if b.expiresAt > now { live.append(b) } else { change.changes.append((.expired, b)) }
        }
        return live
    }

    private static func isBound(to flow: String, _ b: Binding) -> Bool {
        b.flow == flow && b.regID != nil && b.instance != nil
    }

    /// Replaces an AoR's bindings; queues a deadline for each binding that is new or got a new expiry.
    private mutating func store(_ aor: String, _ list: [Binding]) {
        let old = aors[aor] ?? []
        storedCount += list.count - old.count
        if list.isEmpty { aors[aor] = nil } else { aors[aor] = list }
        for b in list where !old.contains(where: { $0.key == b.key && $0.expiresAt == b.expiresAt }) {
            expiryQueue.push(deadline: b.expiresAt, aor: aor, key: b.key)
        }
        pruneQueue()
    }

    /// Keeps the earliest queue entry a live one (so `nextExpiry` is exact) and rebuilds the queue when stale
    /// entries (left by refreshes and removals) outnumber the bindings.
    private mutating func pruneQueue() {
        if expiryQueue.count > 2 * storedCount + 64 {
            expiryQueue.removeAll()
            for (aor, list) in aors {
                for b in list { expiryQueue.push(deadline: b.expiresAt, aor: aor, key: b.key) }
            }
        }
        while let top = expiryQueue.peek,
              !(aors[top.aor]?.contains(where: { $0.key == top.key && $0.expiresAt == top.deadline }) ?? false) {
            expiryQueue.pop()
        }
    }

    private func makeBinding(_ c: RegisterRequest.Contact, key: String, request: RegisterRequest, expires: Int,
                             now: Int64, registeredAt: Int64) -> Binding {
        var params = c.parameters
        params.remove("expires")
        params.remove("q")
        return Binding(key: key, contactURI: c.uri, contactParameters: params, q: c.q,
                       expiresAt: now + Int64(expires), callID: request.callID, cseq: request.cseq, path: request.path,
                       instance: c.instance, regID: c.instance == nil ? nil : c.regID, flow: request.flow,
                       impi: request.impi, userAgent: request.userAgent, registeredAt: registeredAt)
    }

    static func equivalentURIs(_ a: String, _ b: String) -> Bool {
        if a == b { return true }
        guard let x = try? URI(parsing: a), let y = try? URI(parsing: b) else { return false }
        return x.isEquivalent(to: y)
    }

    /// RFC 5626 §6 / RFC 5627: instance + reg-id, else instance, else the contact URI (§10.3 step 8 compares URIs).
    /// A reg-id without an instance is ignored (RFC 5626 §6: plain RFC 3261 rules).
    static func bindingKey(_ c: RegisterRequest.Contact) -> String {
        if let instance = c.instance {
            return c.regID.map { "\(instance);reg-id=\($0)" } ?? instance
        }
        guard let uri = try? SIPURI(parsing: c.uri) else { return c.uri }
        // RFC 3261 §19.1.4 in short: scheme, user and password (case-sensitive), host (case-insensitive), port,
        // and the parameters that must match when present on either side (user, ttl, method, maddr, transport).
        var key = "\(uri.scheme):\(uri.user ?? "")"
        if let password = uri.password { key += ":" + password }
        key += "@\(uri.host.lowercasedASCII):\(uri.port ?? 0)"
        for name in ["transport", "user", "ttl", "method", "maddr"] {
            if let value = uri.parameters[name] {
                key += ";\(name)" + (value.map { "=" + $0.lowercasedASCII } ?? "")
            }
        }
        return key
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
    var unquoted: String {
        let t = trimmingSpaces
        if t.count >= 2, t.hasPrefix("\""), t.hasSuffix("\"") { return String(t.dropFirst().dropLast()) }
        return t
    }
}
