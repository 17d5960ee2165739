import HSS
import IMSModel
import IMSStore
import SCSCF
import SIPCore

/// Conversions between the store's records and the shapes the CSCFs use.
enum SubscriberData {
    /// Every subscriber as the HSS cache holds them, and the change-feed position they reflect. Records
    /// stream from the store into the compact tables one at a time: neither the store's records
    /// (plaintext passwords, timestamps...) nor 100k `AuthInfo`/`RegistrationSet` values are ever all
    /// in memory.
    static func loadDirectory(_ store: IMSStore, homeDomain: String) async throws -> (seq: Int64, tables: SubscriberTables) {
        // Built once for every set on the default iFC (what `irs.serviceProfileXML(homeDomain:)` would
        // build per set); the tables intern it.
        let defaultProfile = DefaultIFC.xml(homeDomain: homeDomain)
        // A size hint (read apart from the snapshot): one set per IMPI is the common case.
        let count = try await store.subscriberCount()
        let (seq, loaded) = try await store.snapshot(into: {
            var tables = SubscriberTables()
            tables.reserve(privateIdentities: count, sets: count)
            return tables
        }) { tables, record in
            let (auth, sets) = entry(record, defaultProfile: defaultProfile)
            tables.add(auth: auth, sets: sets)
        }
        return (seq, loaded)
    }

    /// Auth records and implicit registration sets (merged across the IMPIs that share them).
    static func directory(from records: [SubscriberRecord], homeDomain: String) -> (auth: [AuthInfo], sets: [RegistrationSet]) {
        var auth: [AuthInfo] = []
        auth.reserveCapacity(records.count)
        var sets: [Int64: RegistrationSet] = [:]
        let defaultProfile = DefaultIFC.xml(homeDomain: homeDomain)
        for r in records {
            let (info, own) = entry(r, defaultProfile: defaultProfile)
            auth.append(info)
            for set in own {
                if sets[set.id] != nil {
                    sets[set.id]!.privateIdentities.append(r.impi)
                } else {
                    sets[set.id] = set
                }
            }
        }
        return (auth, Array(sets.values))
    }

    /// One record's credentials, and its sets with it as their only private identity.
    static func entry(_ r: SubscriberRecord, defaultProfile: String) -> (auth: AuthInfo, sets: [RegistrationSet]) {
        let auth = AuthInfo(impi: r.impi, realm: r.realm, ha1MD5: r.ha1MD5, ha1SHA256: r.ha1SHA256,
                            userPartHA1MD5: r.userPartHA1MD5, userPartHA1SHA256: r.userPartHA1SHA256)
        let sets = r.implicitRegistrationSets.map { irs in
            var impus: [String] = []
            var barred: Set<String> = []
            for p in irs.publicIdentities {
                let n = PublicIdentity.normalize(p.uri) ?? p.uri
                impus.append(n)
                if p.barred { barred.insert(n) }
            }
            return RegistrationSet(id: irs.id, publicIdentities: impus, barred: barred, privateIdentities: [r.impi],
                                   serviceProfileXML: irs.ifcXML ?? defaultProfile)
        }
        return (auth, sets)
    }

    static func stored(_ b: Binding, aor: String) -> StoredBinding {
        var contact = "<\(b.contactURI)>"
        for item in b.contactParameters.items {
            contact += ";" + item.name + (item.value.map { "=" + $0 } ?? "")
        }
        return StoredBinding(aor: aor, bindingKey: b.key, contact: contact, contactURI: b.contactURI,
                             expiresAt: b.expiresAt, q: b.q.map { String($0) }, callID: b.callID, cseq: Int64(b.cseq),
                             path: b.path, instance: b.instance, regID: b.regID.map(Int64.init), flow: b.flow,
                             impi: b.impi, registeredAt: b.registeredAt, userAgent: b.userAgent)
    }

    static func binding(_ s: StoredBinding) -> Binding {
        let params = (try? NameAddr(parsing: s.contact))?.parameters ?? SIPParameters()
        return Binding(key: s.bindingKey, contactURI: s.contactURI, contactParameters: params,
                       q: s.q.flatMap(Double.init), expiresAt: s.expiresAt, callID: s.callID,
                       cseq: UInt32(clamping: s.cseq), path: s.path, instance: s.instance,
                       regID: s.regID.map { Int(clamping: $0) }, flow: s.flow, impi: s.impi ?? "",
                       userAgent: s.userAgent, registeredAt: s.registeredAt)
    }
}
