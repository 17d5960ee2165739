/// A subscriber to provision: one private identity (IMPI) and the public identities (IMPUs) of its
/// implicit registration set.
public struct NewSubscriber: Sendable, Hashable {
    /// The private identity (IMPI), e.g. `6505550001@example.com`.
    public var impi: String
    /// The digest realm the HA1s were computed with (normally the home domain).
    public var realm: String
    /// Lower-case hex MD5 of `impi:realm:password` (RFC 2617 HA1). Required.
    public var ha1MD5: String
    /// Lower-case hex SHA-256 of `impi:realm:password` (RFC 7616 HA1), if known.
    public var ha1SHA256: String?
    /// The plaintext password. Leave nil for digest-only subscribers; kept only for AKA later.
    public var plaintextPassword: String?
    /// HA1s over the user part of the IMPI alone, for clients that authenticate with the bare user name.
    public var userPartHA1MD5: String?
    public var userPartHA1SHA256: String?
    /// The public identities, in order; the first is the default public identity of the set.
    /// `sip:user@host`, `sips:user@host` or `tel:+digits`; scheme and host are stored lower-cased.
    public var publicIdentities: [String]
    /// The TS 29.228 `<ServiceProfile>` (initial filter criteria) text; nil = the default iFC
    /// (``DefaultIFC/xml(homeDomain:)`` for the home domain in force when it is read).
    public var ifcXML: String?

    public init(impi: String, realm: String, ha1MD5: String, ha1SHA256: String? = nil,
                plaintextPassword: String? = nil, publicIdentities: [String], ifcXML: String? = nil,
                userPartHA1MD5: String? = nil, userPartHA1SHA256: String? = nil) {
        self.impi = impi
        self.realm = realm
        self.ha1MD5 = ha1MD5
        self.ha1SHA256 = ha1SHA256
        self.plaintextPassword = plaintextPassword
        self.userPartHA1MD5 = userPartHA1MD5
        self.userPartHA1SHA256 = userPartHA1SHA256
        self.publicIdentities = publicIdentities
        self.ifcXML = ifcXML
    }
}

/// A provisioned subscriber as the HSS cache needs it: credentials plus every implicit registration
/// set the private identity belongs to.
public struct SubscriberRecord: Sendable, Hashable {
    /// One public identity of an implicit registration set.
    public struct PublicIdentity: Sendable, Hashable {
        public var uri: String
        public var barred: Bool

        public init(uri: String, barred: Bool = false) {
            self.uri = uri
            self.barred = barred
        }
    }

    /// An implicit registration set (TS 23.228 §4.3.3.4): public identities registered together,
    /// sharing one service profile.
    public struct ImplicitRegistrationSet: Sendable, Hashable {
        /// Stable row id of the set.
        public var id: Int64
        /// In order; the first is the default public identity (the AoR registrations are stored under).
        public var publicIdentities: [PublicIdentity]
        /// The stored `<ServiceProfile>` text, or nil for the default iFC.
        public var ifcXML: String?

        public init(id: Int64, publicIdentities: [PublicIdentity], ifcXML: String?) {
            self.id = id
            self.publicIdentities = publicIdentities
            self.ifcXML = ifcXML
        }

        /// The default public identity (the first of the set).
        public var defaultPublicIdentity: String { publicIdentities.first?.uri ?? "" }

        /// The service profile to serve: the stored one, or the default iFC for `homeDomain`.
        public func serviceProfileXML(homeDomain: String) -> String {
            ifcXML ?? DefaultIFC.xml(homeDomain: homeDomain)
        }
    }

    public var impi: String
    public var realm: String
    public var ha1MD5: String
    public var ha1SHA256: String?
    public var plaintextPassword: String?
    /// HA1s over the user part alone (see ``NewSubscriber/userPartHA1MD5``).
    public var userPartHA1MD5: String? = nil
    public var userPartHA1SHA256: String? = nil
    /// Ordered by set id (creation order).
    public var implicitRegistrationSets: [ImplicitRegistrationSet]
    /// Unix seconds.
    public var createdAt: Int64
    /// Unix seconds.
    public var updatedAt: Int64

    public init(impi: String, realm: String, ha1MD5: String, ha1SHA256: String?, plaintextPassword: String?,
                implicitRegistrationSets: [ImplicitRegistrationSet], createdAt: Int64, updatedAt: Int64) {
        self.impi = impi
        self.realm = realm
        self.ha1MD5 = ha1MD5
        self.ha1SHA256 = ha1SHA256
        self.plaintextPassword = plaintextPassword
        self.implicitRegistrationSets = implicitRegistrationSets
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// Every public identity of every set, in order.
    public var publicIdentities: [String] {
        implicitRegistrationSets.flatMap { $0.publicIdentities.map(\.uri) }
    }
}

/// One entry of the provisioning change feed (see ``IMSStore/changes(after:limit:)``).
public struct StoreChange: Sendable, Hashable {
    /// What changed. `key` says which subscriber; a consumer reloads it (``IMSStore/subscriber(impi:)``,
    /// nil = gone), or everything for ``bulk``.
    public struct Kind: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// key = IMPI: a new subscriber.
        public static let subscriberAdded = Kind(rawValue: "subscriber.added")
        /// key = IMPI: the subscriber is gone.
        public static let subscriberDeleted = Kind(rawValue: "subscriber.deleted")
        /// key = IMPI: its public identities (added, removed, barred) or service profile changed.
        public static let subscriberChanged = Kind(rawValue: "subscriber.changed")
        /// key = IMPI: realm / HA1s / password changed.
        public static let credentialsChanged = Kind(rawValue: "credentials.changed")
        /// key = IMPU: this public identity no longer exists (its stored bindings were deleted too).
        public static let publicIdentityRemoved = Kind(rawValue: "public_identity.removed")
        /// key = the import's source (file name): many subscribers were added; reload everything.
        public static let bulk = Kind(rawValue: "bulk")
    }

    /// Strictly increasing, never reused.
    public var seq: Int64
    public var kind: Kind
    public var key: String
    /// Unix seconds.
    public var at: Int64

    public init(seq: Int64, kind: Kind, key: String, at: Int64) {
        self.seq = seq
        self.kind = kind
        self.key = key
        self.at = at
    }
}

/// A registration binding as the registrar persists it (one Contact of one AoR).
public struct StoredBinding: Sendable, Hashable {
    /// The address of record: the implicit registration set's default public identity.
    public var aor: String
    /// `+sip.instance` + reg-id (RFC 5626) or the contact URI: unique within the AoR.
    public var bindingKey: String
    /// The full Contact header value as received (with parameters).
    public var contact: String
    /// The Contact URI alone.
    public var contactURI: String
    /// Unix seconds.
    public var expiresAt: Int64
    /// The q parameter as written (e.g. `0.5`), if any.
    public var q: String?
    public var callID: String
    public var cseq: Int64
    /// Path header values (RFC 3327), in order.
    public var path: [String]
    /// `+sip.instance` value, if any.
    public var instance: String?
    /// RFC 5626 reg-id, if any.
    public var regID: Int64?
    /// The flow the REGISTER arrived on, e.g. `udp:203.0.113.5:5060` or `tcp:...#connection`.
    public var flow: String?
    /// The private identity that authenticated the registration.
    public var impi: String?
    /// Unix seconds.
    public var registeredAt: Int64
    public var userAgent: String?

    public init(aor: String, bindingKey: String, contact: String, contactURI: String, expiresAt: Int64,
                q: String? = nil, callID: String, cseq: Int64, path: [String] = [], instance: String? = nil,
                regID: Int64? = nil, flow: String? = nil, impi: String? = nil, registeredAt: Int64,
                userAgent: String? = nil) {
        self.aor = aor
        self.bindingKey = bindingKey
        self.contact = contact
        self.contactURI = contactURI
        self.expiresAt = expiresAt
        self.q = q
        self.callID = callID
        self.cseq = cseq
        self.path = path
        self.instance = instance
        self.regID = regID
        self.flow = flow
        self.impi = impi
        self.registeredAt = registeredAt
        self.userAgent = userAgent
    }
}

/// The directory-number range seeded into the number pool (`number_pool_start` / `number_pool_size`).
public struct NumberPoolRange: Sendable, Hashable {
    public var start: Int
    public var count: Int

    public init(start: Int, count: Int) {
        self.start = start
        self.count = count
    }
}

/// What a bulk import wrote.
public struct ImportSummary: Sendable, Hashable {
    /// Distinct private identities (subscribers) added.
    public var subscribers: Int
    /// Public identities added (one per data row).
    public var publicIdentities: Int

    public init(subscribers: Int, publicIdentities: Int) {
        self.subscribers = subscribers
        self.publicIdentities = publicIdentities
    }
}
