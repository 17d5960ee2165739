import DigestAuth
import IMSModel
import SIPCore

/// The S-CSCF's handling of REGISTER (TS 24.229 §5.4.1): digest authentication against the HSS
/// cache, the registrar rules, and the 200 OK an IMS UE expects (P-Associated-URI, Service-Route,
/// Path, GRUU). Loop-confined; time is passed in (Unix seconds).
public final class SCSCFRegistrar {
    public struct Settings: Sendable {
        public var homeDomain: String
        /// This S-CSCF's address for Service-Route and Contact (`host:port`).
        public var hostPort: String
        public var policy: RegistrarPolicy
        /// Digest algorithms offered in each 401, in order.
        public var algorithms: [DigestAlgorithm]
        /// Hosts read as the home domain in identities (the server's own addresses).
        public var domainAliases: Set<String>
        public init(homeDomain: String, hostPort: String, policy: RegistrarPolicy = RegistrarPolicy(),
                    algorithms: [DigestAlgorithm] = [.md5], domainAliases: Set<String> = []) {
            self.homeDomain = homeDomain
            self.domainAliases = domainAliases
            self.hostPort = hostPort
            self.policy = policy
            self.algorithms = algorithms
        }
    }

    public enum Outcome {
        /// Answer as is (401, 403, 400...). Nothing changed.
        case respond(SIPResponse)
        /// Bindings changed: persist `change`, then send `response`.
        case registered(SIPResponse, RegistrationChange, RegistrationSet)
    }

    public let settings: Settings
    public var registrar: Registrar
    private var authenticator: DigestAuthenticator
    private unowned let directory: SubscriberDirectory
    private let newTag: () -> String

    public init(settings: Settings, directory: SubscriberDirectory, nonces: NonceManager, processStart: UInt64,
                newTag: @escaping () -> String) {
        self.settings = settings
        self.registrar = Registrar(policy: settings.policy)
        self.directory = directory
        // Nonces issued before this process started are not vouched for (their nc history is gone).
        self.authenticator = DigestAuthenticator(nonces: nonces,
                                                 tracker: NonceCountTracker(lifetime: nonces.lifetime, notBefore: processStart))
        self.newTag = newTag
    }

    public var realm: String { settings.homeDomain }
    public var serviceRoute: String { "<sip:orig@\(settings.hostPort);lr>" }

    public func register(_ request: SIPRequest, flow: String?, now: Int64) -> Outcome {
        guard let to = request.to,
              let impu = PublicIdentity.normalize(to.uri, homeDomain: settings.homeDomain, aliases: settings.domainAliases) else {
            return .respond(reply(request, 400, "Bad Header: To"))
        }
        // Credentials for our realm, if any (RFC 3261 §22.4: pick the one for the realm we challenge with).
        var credentials: DigestCredentials?
        for value in request.headers.rawValues("Authorization") {
            let parsed: DigestCredentials
            do { parsed = try DigestCredentials.parse(value) } catch {
                return .respond(reply(request, 400, error.reasonPhrase(for: .authorization)))
            }
            if parsed.realm == realm { credentials = parsed; break }
        }
        guard let credentials else { return .respond(challenge(request, stale: false, now: now)) }

        // Unknown identities, identities the IMPI does not own and wrong passwords all get the same
        // 403, so responses tell an enumerator nothing (TS 33.203 leaves the choice to us).
        let set = directory.registrationSet(impu: impu)
        let impi = DigestIdentity.impiCandidates(username: credentials.username, homeDomain: settings.homeDomain)
            .first { candidate in directory.authInfo(impi: candidate) != nil && (set?.privateIdentities.contains(candidate) ?? false) }
        guard let set, let impi, let auth = directory.authInfo(impi: impi) else {
            return .respond(reply(request, 403, "Forbidden"))
        }
        // The HA1 must be over the user name exactly as the client sent it (with or without domain).
        let bare = !credentials.username.utf8.contains(UInt8(ascii: "@"))
        let sha256 = credentials.algorithm?.hashFunction == .sha256
        guard let storedHA1 = auth.ha1(sha256: sha256, bareUserName: bare) else {
            if sha256, auth.ha1(sha256: false, bareUserName: bare) != nil {
                // No SHA-256 credential provisioned (e.g. imported as an MD5 HA1): ask again with MD5 only.
                return .respond(challenge(request, stale: false, now: now, algorithms: [.md5]))
            }
            return .respond(reply(request, 403, "Forbidden"))
        }
        switch authenticator.authenticate(credentials, method: request.method.rawValue, storedHA1: storedHA1,
                                          realm: realm, body: request.body, now: UInt64(max(0, now))) {
        case .authenticated:
            break
        case .staleNonce, .replay:
            return .respond(challenge(request, stale: true, now: now))
        case .invalidNonce, .realmMismatch, .unsupportedAlgorithm, .unsupportedQop, .qopRequired:
            return .respond(challenge(request, stale: false, now: now))
        case .wrongResponse:
            return .respond(reply(request, 403, "Forbidden"))
        }

        let aor = set.defaultIdentity
        let registerRequest: RegisterRequest
        do {
            registerRequest = try RegisterRequest.from(request, impi: impi, flow: flow, maxContacts: settings.policy.maxContactsPerRequest)
        } catch {
            return .respond(reply(request, error.status, error.reason, headers: error.headers))
        }
        if registerRequest.contacts.isEmpty && !registerRequest.wildcard {
            // RFC 3261 §10.2.3: a query; list the current bindings.
            return .respond(ok(request, set: set, now: now))
        }
        let change: RegistrationChange
        do {
            change = try registrar.register(registerRequest, aor: aor, now: now)
        } catch {
            return .respond(reply(request, error.status, error.reason, headers: error.headers))
        }
        return .registered(ok(request, set: set, now: now), change, set)
    }

    /// The 200 OK (RFC 3261 §10.3 step 8, TS 24.229 §5.4.1.2.2).
    func ok(_ request: SIPRequest, set: RegistrationSet, now: Int64) -> SIPResponse {
        var response = reply(request, 200, nil)
        let wantsGRUU = request.supported.contains { $0.lowercased() == "gruu" }
        for binding in registrar.bindings(for: set.defaultIdentity, now: now) {
            let gruu = wantsGRUU ? binding.instance.map { RegInfo.pubGRUU(aor: set.defaultIdentity, instance: $0) } : nil
            response.headers.add("Contact", binding.contactHeaderValue(now: now, pubGRUU: gruu))
        }
        for path in request.headers.values("Path") { response.headers.add("Path", path) }
        for impu in set.associatedIdentities { response.headers.add("P-Associated-URI", "<\(impu)>") }
        response.headers.add("Service-Route", serviceRoute)
        var supported = ["path"]
        if wantsGRUU { supported.append("gruu") }
        // RFC 5626 §6: outbound is in use when the first Path carries `ob` and a contact has a reg-id.
        let firstPathHasOb = request.headers.firstValue("Path").map { Self.containsOb($0) } ?? false
        if firstPathHasOb && request.contacts.contains(where: { $0.parameters.contains("reg-id") }) {
            response.headers.add("Require", "outbound")
            supported.append("outbound")
        }
        response.headers.add("Supported", supported.joined(separator: ", "))
        return response
    }

    /// Whether `path` contains ";ob" (a byte scan: `String.contains` of a substring goes through Foundation).
    static func containsOb(_ path: String) -> Bool {
        let u = Array(path.utf8)
        guard u.count >= 3 else { return false }
        for i in 0...(u.count - 3) where u[i] == UInt8(ascii: ";") && u[i + 1] == UInt8(ascii: "o") && u[i + 2] == UInt8(ascii: "b") {
            return true
        }
        return false
    }

    func challenge(_ request: SIPRequest, stale: Bool, now: Int64, algorithms: [DigestAlgorithm]? = nil) -> SIPResponse {
        var response = reply(request, 401, nil)
        for c in authenticator.challenges(realm: realm, algorithms: algorithms ?? settings.algorithms, stale: stale,
                                          now: UInt64(max(0, now))) {
            response.headers.add("WWW-Authenticate", c.serialized)
        }
        return response
    }

    func reply(_ request: SIPRequest, _ status: Int, _ reason: String?, headers: [SIPHeader] = []) -> SIPResponse {
        var response = request.makeResponse(statusCode: status, reasonPhrase: reason, toTag: newTag())
        for h in headers { response.headers.add(h.name, h.value) }
        return response
    }
}
