/// What the Homestead-compatible HTTP interface asks of the HSS cache.
///
/// The lead implements this over `HSSCache` and the S-CSCF's registration state (typically by hopping
/// onto the SIP event loop with `eventLoop.submit`). Identities arrive percent-decoded but otherwise
/// exactly as the client wrote them; normalising (`PublicIdentity.normalize`) is the backend's job.
///
/// Every method may throw: an ``HSSAPIError`` is answered with its own status and reason, any other
/// error with 503 (the backend is shutting down or unavailable). Returning `nil` means 404.
public protocol HSSBackend: Sendable {
    /// The digest credentials of a private identity. When `impu` is given, `nil` also when the private
    /// identity may not register that public identity.
    func digest(impi: String, impu: String?) async throws -> HSSDigest?

    /// The registration state and IMS subscription of the implicit registration set `impu` belongs to,
    /// or `nil` when the public identity is not provisioned.
    func registrationData(impu: String) async throws -> HSSRegistrationData?

    /// Applies a registration event from the S-CSCF and returns the resulting data (`nil`: unknown
    /// public identity, or `privateID` not associated with it).
    ///
    /// Clearwater semantics: `reg` marks the set REGISTERED; `call` on a NOT_REGISTERED identity moves
    /// it to UNREGISTERED (unregistered services) and leaves other states alone; every `dereg-*`
    /// removes the identity's registration bindings and returns NOT_REGISTERED data.
    func updateRegistration(
        impu: String,
        privateID: String?,
        request: HSSRegistrationRequest
    ) async throws -> HSSRegistrationData?
}

/// Digest credentials of a private identity, as `/impi/<impi>/av` and `/impi/<impi>/digest` return them.
public struct HSSDigest: Sendable, Hashable {
    /// Lower-case hex MD5(impi:realm:password).
    public var ha1: String
    public var realm: String
    /// Quality of protection to offer; Clearwater always says `auth`.
    public var qop: String

    public init(ha1: String, realm: String, qop: String = "auth") {
        self.ha1 = ha1
        self.realm = realm
        self.qop = qop
    }
}

/// `<RegistrationState>` of `<ClearwaterRegData>`.
public enum HSSRegistrationState: String, Sendable, Hashable, CaseIterable {
    case registered = "REGISTERED"
    /// Provisioned, not registered, but a terminating call has moved it to unregistered services.
    case unregistered = "UNREGISTERED"
    case notRegistered = "NOT_REGISTERED"
}

/// One `<PublicIdentity>` of the service profile.
public struct HSSPublicIdentity: Sendable, Hashable {
    public var identity: String
    /// Rendered as `<BarringIndication>1</BarringIndication>`.
    public var barred: Bool

    public init(_ identity: String, barred: Bool = false) {
        self.identity = identity
        self.barred = barred
    }
}

/// `<ChargingAddresses>`: CCF and ECF addresses in priority order (first = priority 1).
public struct HSSChargingAddresses: Sendable, Hashable {
    public var ccfs: [String]
    public var ecfs: [String]

    public init(ccfs: [String] = [], ecfs: [String] = []) {
        self.ccfs = ccfs
        self.ecfs = ecfs
    }

    public var isEmpty: Bool { ccfs.isEmpty && ecfs.isEmpty }
}

/// Everything `<ClearwaterRegData>` says about an implicit registration set.
public struct HSSRegistrationData: Sendable, Hashable {
    public var state: HSSRegistrationState
    /// `<PrivateID>`: the private identity the request named, else the set's first.
    public var privateID: String
    /// Every public identity of the implicit registration set, default identity first.
    public var publicIdentities: [HSSPublicIdentity]
    /// Complete `<InitialFilterCriteria>…</InitialFilterCriteria>` elements as XML text, copied verbatim
    /// into the `<ServiceProfile>`. Each must be a well-formed element; see
    /// ``init(state:privateID:publicIdentities:serviceProfileXML:chargingAddresses:)`` to extract them
    /// from a stored TS 29.228 `<ServiceProfile>` document, which checks that.
    public var initialFilterCriteria: [String]
    public var chargingAddresses: HSSChargingAddresses

    public init(
        state: HSSRegistrationState,
        privateID: String,
        publicIdentities: [HSSPublicIdentity],
        initialFilterCriteria: [String] = [],
        chargingAddresses: HSSChargingAddresses = .init()
    ) {
        self.state = state
        self.privateID = privateID
        self.publicIdentities = publicIdentities
        self.initialFilterCriteria = initialFilterCriteria
        self.chargingAddresses = chargingAddresses
    }

    /// Takes the iFCs from a stored `<ServiceProfile>` document (``ServiceProfileXML/initialFilterCriteria(in:)``);
    /// a missing or malformed document gives none.
    public init(
        state: HSSRegistrationState,
        privateID: String,
        publicIdentities: [HSSPublicIdentity],
        serviceProfileXML: String?,
        chargingAddresses: HSSChargingAddresses = .init()
    ) {
        let ifcs = serviceProfileXML.flatMap { ServiceProfileXML.initialFilterCriteria(in: $0) } ?? []
        self.init(state: state, privateID: privateID, publicIdentities: publicIdentities,
                  initialFilterCriteria: ifcs, chargingAddresses: chargingAddresses)
    }
}

/// The `reqtype` of `PUT /impu/<impu>/reg-data`.
public enum HSSRegistrationRequestType: String, Sendable, Hashable, CaseIterable {
    case register = "reg"
    case call = "call"
    case deregisterUser = "dereg-user"
    case deregisterTimeout = "dereg-timeout"
    case deregisterAdmin = "dereg-admin"
    case deregisterAuthFailed = "dereg-auth-failed"
    case deregisterAuthTimeout = "dereg-auth-timeout"

    /// Every `dereg-*`: the identity's bindings go.
    public var isDeregistration: Bool {
        switch self {
        case .register, .call: false
        default: true
        }
    }
}

/// The decoded body of `PUT /impu/<impu>/reg-data`.
public struct HSSRegistrationRequest: Sendable, Hashable {
    public var type: HSSRegistrationRequestType
    /// `server_name`: the S-CSCF that sent it, when given.
    public var serverName: String?

    public init(type: HSSRegistrationRequestType, serverName: String? = nil) {
        self.type = type
        self.serverName = serverName
    }
}

/// An error a backend may throw (or the interface raises) to answer with a specific status; rendered as
/// `{"error": true, "status": N, "message": "<reason phrase>", "reason": "<reason>"}`.
public struct HSSAPIError: Error, Sendable, Hashable, CustomStringConvertible {
    public var status: Int
    public var reason: String

    public init(status: Int, reason: String) {
        self.status = status
        self.reason = reason
    }

    public static func badRequest(_ reason: String) -> Self { .init(status: 400, reason: reason) }
    public static func notFound(_ reason: String) -> Self { .init(status: 404, reason: reason) }
    public static func unavailable(_ reason: String) -> Self { .init(status: 503, reason: reason) }

    public var description: String { "HSSAPIError(\(status), \(reason))" }
}
