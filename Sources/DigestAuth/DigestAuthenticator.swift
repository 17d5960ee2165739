/// What the registrar should do with a request carrying Digest credentials.
public enum DigestAuthOutcome: Sendable, Hashable {
    /// Credentials are good, the nonce is fresh and `nc` is new: accept the request.
    case authenticated
    /// The response is right but the nonce expired: 401 with a new nonce and `stale=true`.
    case staleNonce
    /// `nc` was reused (or the nonce can no longer be vouched for): 401 with a new nonce and `stale=true`.
    case replay
    /// The nonce (or opaque) is not one of ours: 401 with a fresh challenge (no `stale`).
    case invalidNonce
    /// The credentials are for another realm: 401 with a fresh challenge.
    case realmMismatch
    /// The response is wrong: wrong password, or HA1 for another username. 401 again or 403 (registrar policy).
    case wrongResponse
    /// Algorithm or qop not supported: 401 with a fresh challenge listing what is supported.
    case unsupportedAlgorithm
    case unsupportedQop
    /// The request had no qop but `requireQop` is set: 401 with a fresh challenge.
    case qopRequired
}

/// The server side of Digest in one value: nonce and opaque from a `NonceManager`, replay state in a
/// `NonceCountTracker`, response check by `DigestVerifier`. Sans-IO: time comes in as `now` (Unix seconds),
/// and the caller keeps this value (it is mutated by `authenticate`) in its own isolation domain.
public struct DigestAuthenticator: Sendable {
    public let nonces: NonceManager
    public private(set) var tracker: NonceCountTracker
    /// Refuse credentials without qop (RFC 2069 clients). Default false: accepted, each nonce single-use.
    public var requireQop: Bool

    public init(nonces: NonceManager, tracker: NonceCountTracker? = nil, requireQop: Bool = false) {
        self.nonces = nonces
        self.tracker = tracker ?? NonceCountTracker(lifetime: nonces.lifetime)
        self.requireQop = requireQop
    }

    /// The challenges for a 401 (or 407): a new nonce, this server's opaque, one challenge per algorithm,
    /// SHA-256 first. Put each in its own `WWW-Authenticate` header field, in order.
    public func challenges(
        realm: String, algorithms: [DigestAlgorithm] = [.md5], qop: [DigestQop] = [.auth], stale: Bool = false,
        now: UInt64, binding: [UInt8] = []
    ) -> [DigestChallenge] {
        DigestChallenge.challenges(
            realm: realm, nonce: nonces.issue(realm: realm, now: now, binding: binding),
            opaque: nonces.opaque(realm: realm), algorithms: algorithms, qop: qop, stale: stale)
    }

    /// Checks credentials, in this order: realm, algorithm/qop support, opaque (when present), nonce MAC,
    /// response, nonce freshness, nonce count. The response is checked before freshness so that a stale nonce
    /// with a right response gets `stale=true` (RFC 2617 §3.2.1), and before the count so that forged requests
    /// never advance it.
    ///
    /// - Parameters:
    ///   - storedHA1: the subscriber's HA1 for `credentials.algorithm?.hashFunction`.
    ///   - realm: the realm this server challenged with.
    ///   - body: the request body (only used with qop=auth-int).
    public mutating func authenticate(
        _ credentials: DigestCredentials, method: String, storedHA1: String, realm: String,
        body: [UInt8] = [], now: UInt64, binding: [UInt8] = []
    ) -> DigestAuthOutcome {
        guard credentials.realm == realm else { return .realmMismatch }
        guard credentials.algorithm != nil else { return .unsupportedAlgorithm }
        if credentials.qopName != nil, credentials.qop == nil { return .unsupportedQop }
        if requireQop, credentials.qopName == nil { return .qopRequired }
        if let opaque = credentials.opaque, !nonces.isValidOpaque(opaque, realm: realm) { return .invalidNonce }

        let issuedAt: UInt64
        let isStale: Bool
        switch nonces.validate(credentials.nonce, realm: realm, now: now, binding: binding) {
        case .invalid: return .invalidNonce
        case .valid(let t): issuedAt = t; isStale = false
        case .stale(let t): issuedAt = t; isStale = true
        }

        switch DigestVerifier.verify(credentials, method: method, storedHA1: storedHA1, body: body) {
        case .ok: break
        case .wrongResponse: return .wrongResponse
        case .unsupportedAlgorithm: return .unsupportedAlgorithm
        case .unsupportedQop: return .unsupportedQop
        }
        if isStale { return .staleNonce }

        let count: UInt32?
        if credentials.qopName != nil {
            guard let nc = credentials.nonceCount else { return .wrongResponse }
            count = nc
        } else {
            count = nil
        }
        switch tracker.check(nonce: credentials.nonce, issuedAt: issuedAt, nonceCount: count, now: now) {
        case .accepted: return .authenticated
        case .replay: return .replay
        }
    }
}

/// Identity helpers for the registrar.
public enum DigestIdentity {
    /// The IMPIs (private user identities) to look up for an Authorization `username`, most likely first:
    ///
    /// - `user@domain` as given; when the domain part has upper-case letters, also the same with the
    ///   domain lower-cased (domains compare case-insensitively, user parts do not);
    /// - a username without `@` (softphones whose auth name was left empty send just the user part) becomes
    ///   `username@homeDomain`.
    ///
    /// An empty username (or one longer than 512 bytes) yields no candidate.
    public static func impiCandidates(username: String, homeDomain: String) -> [String] {
        guard !username.isEmpty, username.utf8.count <= 512 else { return [] }
        // The last "@" byte, not Character: an "@" followed by a combining mark is one Character to `lastIndex(of:)`.
        guard let at = username.utf8.lastIndex(of: UInt8(ascii: "@")) else {
            let domain = homeDomain.trimmingASCIIWhitespace()
            return domain.isEmpty ? [username] : ["\(username)@\(domain)"]
        }
        var candidates = [username]
        let user = username[..<at]
        let domain = username[username.utf8.index(after: at)...]
        let lowered = "\(user)@\(AuthGrammar.lowercasedASCII(domain))"
        if lowered != username { candidates.append(lowered) }
        return candidates
    }
}
