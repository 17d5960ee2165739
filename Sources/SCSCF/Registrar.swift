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
        var contacts: [Contact] = []
        var wildcard = false
        for value in values {
            if value.trimmingSpaces == "*" {
                wildcard = true
                continue
            }
            let nameAddr: NameAddr
            do { nameAddr = try NameAddr(parsing: value) } catch {
                throw RegistrarError(400, "Bad Header: Contact")
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
                guard raw != nil, let value = nameAddr.q, value >= 0, value <= 1 else {
                    throw RegistrarError(400, "Bad Contact q-value")
                }
                q = value
            }
            var instance: String?
            if let raw = nameAddr.parameters["+sip.instance"], let text = raw {
                instance = text.unquoted
            }
            var regID: Int?
            if let raw = nameAddr.parameters["reg-id"] {
                guard let text = raw, let value = Int(text), value > 0 else { throw RegistrarError(400, "Bad Contact reg-id") }
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
    private var expiryQueue = ExpiryQueue()

    public init(policy: RegistrarPolicy = RegistrarPolicy()) { self.policy = policy }

    public var aorCount: Int { aors.count }
    public var bindingCount: Int { aors.values.reduce(0) { $0 + $1.count } }
    /// When the next binding expires (Unix seconds), for the one expiry timer.
    public var nextExpiry: Int64? { expiryQueue.peekDeadline }

    public func bindings(for aor: String, now: Int64) -> [Binding] {
        (aors[aor] ?? []).filter { $0.expiresAt > now }
    }
    public var allAoRs: [String] { Array(aors.keys) }

    /// Applies a REGISTER to an AoR. Atomic: on error nothing changes.
    public mutating func register(_ request: RegisterRequest, aor: String, now: Int64) throws(RegistrarError) -> RegistrationChange {
        var current = bindings(for: aor, now: now)
        var change = RegistrationChange(aor: aor)

        if request.wildcard {
            // RFC 3261 §10.3 step 6: remove every binding, unless one with the same Call-ID has a newer CSeq.
            for b in current where b.callID == request.callID && b.cseq >= request.cseq {
                throw RegistrarError(400, "CSeq Out Of Order")
            }
            for b in current { change.changes.append((.unregistered, b)) }
            store(aor, [])
            return change
        }

        for contact in request.contacts {
            var expires = contact.expires ?? request.expiresHeader ?? policy.maxExpires
            if expires > 0 && expires < policy.minExpires {
                throw RegistrarError(423, "Interval Too Brief", headers: [SIPHeader(name: "Min-Expires", value: String(policy.minExpires))])
            }
            expires = min(expires, policy.maxExpires)
            let key = Self.bindingKey(contact)
            if let index = current.firstIndex(where: { $0.key == key }) {
                let existing = current[index]
                if existing.callID == request.callID && request.cseq <= existing.cseq {
                    throw RegistrarError(400, "CSeq Out Of Order")
                }
                if expires == 0 {
                    current.remove(at: index)
                    change.changes.append((.unregistered, existing))
                } else {
                    let updated = makeBinding(contact, key: key, request: request, expires: expires, now: now,
                                              registeredAt: existing.registeredAt)
                    current[index] = updated
                    let event: RegistrationChange.Event = updated.expiresAt < existing.expiresAt ? .shortened : .refreshed
                    change.changes.append((existing.contactURI == updated.contactURI ? event : .created, updated))
                }
            } else if expires > 0 {
                // RFC 5626 §6: a new flow for an instance replaces the bindings of the same instance with other reg-ids only
                // when they are the same reg-id; different reg-ids coexist. Nothing more to do here.
                let binding = makeBinding(contact, key: key, request: request, expires: expires, now: now, registeredAt: now)
                current.append(binding)
                change.changes.append((.created, binding))
            }
        }
        if current.count > policy.maxBindingsPerAoR {
            throw RegistrarError(403, "Too Many Bindings (max \(policy.maxBindingsPerAoR))")
        }
        store(aor, current)
        return change
    }

    /// Removes every binding of an AoR (administrative deregistration, or a deleted subscriber).
    public mutating func removeAll(aor: String, now: Int64, event: RegistrationChange.Event = .deactivated) -> RegistrationChange {
        var change = RegistrationChange(aor: aor)
        for b in bindings(for: aor, now: now) { change.changes.append((event, b)) }
        store(aor, [])
        return change
    }

    /// Removes the bindings of a flow that failed (RFC 5626 §5.3 "flow failed") — returns what went.
    public mutating func removeFlow(_ flow: String, now: Int64) -> [RegistrationChange] {
        var out: [RegistrationChange] = []
        for (aor, list) in aors where list.contains(where: { $0.flow == flow && $0.regID != nil }) {
            var change = RegistrationChange(aor: aor)
            let kept = list.filter { b in
                if b.flow == flow && b.regID != nil { change.changes.append((.deactivated, b)); return false }
                return true
            }
            store(aor, kept)
            out.append(change)
        }
        return out
    }

    /// Removes bindings whose time has come. Returns one change per AoR affected.
    public mutating func expire(now: Int64) -> [RegistrationChange] {
        var byAoR: [String: RegistrationChange] = [:]
        while let entry = expiryQueue.popDue(now: now) {
            guard var list = aors[entry.aor],
                  let index = list.firstIndex(where: { $0.key == entry.key && $0.expiresAt == entry.deadline }) else {
                continue // refreshed or removed since: a stale queue entry
            }
            let binding = list.remove(at: index)
            byAoR[entry.aor, default: RegistrationChange(aor: entry.aor)].changes.append((.expired, binding))
            if list.isEmpty { aors[entry.aor] = nil } else { aors[entry.aor] = list }
        }
        return byAoR.keys.sorted().map { byAoR[$0]! }
    }

    /// Puts back bindings loaded from the database after a restart (already-expired ones are skipped).
    public mutating func restore(aor: String, bindings: [Binding], now: Int64) {
        let live = bindings.filter { $0.expiresAt > now }
        guard !live.isEmpty else { return }
        var merged = aors[aor] ?? []
        for b in live where !merged.contains(where: { $0.key == b.key }) { merged.append(b) }
        store(aor, merged)
    }

    private mutating func store(_ aor: String, _ list: [Binding]) {
        if list.isEmpty { aors[aor] = nil } else { aors[aor] = list }
        for b in list { expiryQueue.push(deadline: b.expiresAt, aor: aor, key: b.key) }
    }

    private func makeBinding(_ c: RegisterRequest.Contact, key: String, request: RegisterRequest, expires: Int,
                             now: Int64, registeredAt: Int64) -> Binding {
        var params = c.parameters
        params.remove("expires")
        params.remove("q")
        return Binding(key: key, contactURI: c.uri, contactParameters: params, q: c.q,
                       expiresAt: now + Int64(expires), callID: request.callID, cseq: request.cseq, path: request.path,
                       instance: c.instance, regID: c.regID, flow: request.flow, impi: request.impi,
                       userAgent: request.userAgent, registeredAt: registeredAt)
    }

    /// RFC 5626 §6 / RFC 5627: instance + reg-id, else instance, else the contact URI (§10.3 step 8 compares URIs).
    static func bindingKey(_ c: RegisterRequest.Contact) -> String {
        if let instance = c.instance {
            return c.regID.map { "\(instance);reg-id=\($0)" } ?? instance
        }
        guard let uri = try? SIPURI(parsing: c.uri) else { return c.uri }
        // RFC 3261 §19.1.4 in short: scheme, user (case-sensitive), host (case-insensitive), port, transport.
        let transport = uri.parameters["transport"].flatMap { $0 }?.lowercased() ?? ""
        return "\(uri.scheme):\(uri.user ?? "")@\(uri.host.lowercased()):\(uri.port ?? 0);\(transport)"
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
