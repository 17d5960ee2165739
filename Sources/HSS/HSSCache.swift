import IMSModel

/// The in-memory HSS: every subscriber's credentials and implicit registration sets, answered on the
/// SIP event loop without touching the database. Filled from the store at start-up and kept current
/// from its change feed.
public final class HSSCache: SubscriberDirectory {
    private var auth: [String: AuthInfo] = [:]
    private var sets: [Int64: RegistrationSet] = [:]
    private var setByIMPU: [String: Int64] = [:]
    /// Service profiles by text: nearly every set has the same (default) profile, and one shared
    /// string instead of one copy per set is most of the cache's memory at 100k subscribers.
    private var profiles: Set<String> = []

    public init() {}

    public var privateIdentityCount: Int { auth.count }
    public var publicIdentityCount: Int { setByIMPU.count }

    // MARK: SubscriberDirectory

    public func authInfo(impi: String) -> AuthInfo? { auth[impi] }

    public func registrationSet(impu: String) -> RegistrationSet? {
        if let id = setByIMPU[impu] { return sets[id] }
        guard let normalized = PublicIdentity.normalize(impu), let id = setByIMPU[normalized] else { return nil }
        return sets[id]
    }

    // MARK: loading

    /// Replaces the whole cache (start-up, or after a bulk import).
    public func replaceAll(auth newAuth: [AuthInfo], sets newSets: [RegistrationSet]) {
        auth = Dictionary(newAuth.map { ($0.impi, $0) }, uniquingKeysWith: { _, last in last })
        sets = [:]
        setByIMPU = [:]
        profiles = []
        sets.reserveCapacity(newSets.count)
        setByIMPU.reserveCapacity(newSets.count)
        for set in newSets { insert(set) }
    }

    /// Replaces what is known about one private identity and the sets it may register.
    public func update(auth info: AuthInfo?, impi: String, sets changed: [RegistrationSet]) {
        if let info { auth[impi] = info } else { auth[impi] = nil }
        // Sets the IMPI belonged to but no longer does (or that were deleted) go first.
        let changedIDs = Set(changed.map(\.id))
        for (id, set) in sets where set.privateIdentities.contains(impi) && !changedIDs.contains(id) {
            var remaining = set
            remaining.privateIdentities.removeAll { $0 == impi }
            remove(setID: id)
            if !remaining.privateIdentities.isEmpty { insert(remaining) }
        }
        for set in changed {
            remove(setID: set.id)
            insert(set)
        }
    }

    public func remove(setID: Int64) {
        guard let old = sets.removeValue(forKey: setID) else { return }
        for impu in old.publicIdentities where setByIMPU[impu] == setID { setByIMPU[impu] = nil }
    }

    private func insert(_ set: RegistrationSet) {
        var set = set
        if let xml = set.serviceProfileXML {
            if let shared = profiles.firstIndex(of: xml) {
                set.serviceProfileXML = profiles[shared]
            } else {
                profiles.insert(xml)
            }
        }
        sets[set.id] = set
        for impu in set.publicIdentities { setByIMPU[impu] = set.id }
    }
}
