import IMSModel
import IMSStore
import SCSCF
import SIPCore

/// Conversions between the store's records and the shapes the CSCFs use.
enum SubscriberData {
    /// Every subscriber as the HSS cache holds them, and the change-feed position they reflect. The
    /// store's records (plaintext passwords, timestamps...) are dropped before this returns.
    static func loadDirectory(_ store: IMSStore, homeDomain: String) async throws
        -> (seq: Int64, directory: (auth: [AuthInfo], sets: [RegistrationSet])) {
        let snapshot = try await store.snapshot()
        return (snapshot.seq, directory(from: snapshot.subscribers, homeDomain: homeDomain))
    }

    /// Auth records and implicit registration sets (merged across the IMPIs that share them).
    static func directory(from records: [SubscriberRecord], homeDomain: String) -> (auth: [AuthInfo], sets: [RegistrationSet]) {
        var auth: [AuthInfo] = []
        auth.reserveCapacity(records.count)
        var sets: [Int64: RegistrationSet] = [:]
        sets.reserveCapacity(records.count)
        // Built once for every set on the default iFC (what `irs.serviceProfileXML(homeDomain:)` would
        // build per set): no 100k transient copies at start-up. The HSS cache interns profiles anyway.
        let defaultProfile = DefaultIFC.xml(homeDomain: homeDomain)
        for r in records {
            auth.append(AuthInfo(impi: r.impi, realm: r.realm, ha1MD5: r.ha1MD5, ha1SHA256: r.ha1SHA256,
                                 userPartHA1MD5: r.userPartHA1MD5, userPartHA1SHA256: r.userPartHA1SHA256))
            for irs in r.implicitRegistrationSets {
                if sets[irs.id] != nil {
                    sets[irs.id]!.privateIdentities.append(r.impi)
                    continue
                }
                var impus: [String] = []
                var barred: Set<String> = []
                for p in irs.publicIdentities {
                    let n = PublicIdentity.normalize(p.uri) ?? p.uri
                    impus.append(n)
                    if p.barred { barred.insert(n) }
                }
                sets[irs.id] = RegistrationSet(id: irs.id, publicIdentities: impus, barred: barred,
                                               privateIdentities: [r.impi],
                                               serviceProfileXML: irs.ifcXML ?? defaultProfile)
            }
        }
        return (auth, Array(sets.values))
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
