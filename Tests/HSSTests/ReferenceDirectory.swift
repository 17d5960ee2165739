import IMSModel

/// The HSS cache as it was before the compact tables (Dictionaries of Strings), kept as the model the
/// tables must agree with.
final class ReferenceDirectory {
    var auth: [String: AuthInfo] = [:]
    var sets: [Int64: RegistrationSet] = [:]
    var setByIMPU: [String: Int64] = [:]

    func authInfo(impi: String) -> AuthInfo? { auth[impi] }

    func registrationSet(impu: String) -> RegistrationSet? {
        if let id = setByIMPU[impu] { return sets[id] }
        guard let normalized = PublicIdentity.normalize(impu), let id = setByIMPU[normalized] else { return nil }
        return sets[id]
    }

    func replaceAll(auth newAuth: [AuthInfo], sets newSets: [RegistrationSet]) {
        auth = Dictionary(newAuth.map { ($0.impi, $0) }, uniquingKeysWith: { _, last in last })
        sets = [:]
        setByIMPU = [:]
        for set in newSets { insert(set) }
    }

    /// What start-up did: `SubscriberData.directory(from:)` merging, then `replaceAll`.
    func add(auth info: AuthInfo, sets added: [RegistrationSet]) {
        auth[info.impi] = info
        for set in added {
            if var existing = sets[set.id] {
                if !existing.privateIdentities.contains(info.impi) {
                    existing.privateIdentities.append(info.impi)
                    sets[set.id] = existing
                }
            } else {
                insert(set)
            }
        }
    }

    func update(auth info: AuthInfo?, impi: String, sets changed: [RegistrationSet]) {
        if let info { auth[impi] = info } else { auth[impi] = nil }
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

    func remove(setID: Int64) {
        guard let old = sets.removeValue(forKey: setID) else { return }
        for impu in old.publicIdentities where setByIMPU[impu] == setID { setByIMPU[impu] = nil }
    }

    private func insert(_ set: RegistrationSet) {
        sets[set.id] = set
        for impu in set.publicIdentities { setByIMPU[impu] = set.id }
    }

    /// Private identities with credentials or in a set.
    var knownPrivateIdentities: Set<String> {
        Set(auth.keys).union(sets.values.flatMap(\.privateIdentities))
    }
}
